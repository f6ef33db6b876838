/**
 * Reads Baton's own group-commit metrics from `/metrics` (Prometheus text), so the report can say
 * how many writes each fsynced commit carried and how long the event loop was blocked committing.
 */

export interface StoreCounters {
  commits: number;
  writes: number;
  commitS: number;
}

export interface StoreFigures {
  commitsPerS: number;
  meanBatch: number;
  meanCommitMs: number;
  /** Share of the window the broker's only JS thread spent inside commits (better-sqlite3 is synchronous). */
  blockedShare: number;
}

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

export async function storeCounters(httpUrl: string): Promise<StoreCounters> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return {
    commits: sample(text, 'baton_store_batch_size_count'),
    writes: sample(text, 'baton_store_batch_size_sum'),
    commitS: sample(text, 'baton_store_commit_seconds_sum'),
  };
}

export function storeFigures(before: StoreCounters, after: StoreCounters, elapsedS: number): StoreFigures {
  const commits = after.commits - before.commits;
  const commitS = after.commitS - before.commitS;
  return {
    commitsPerS: commits / elapsedS,
    meanBatch: (after.writes - before.writes) / commits,
    meanCommitMs: (commitS / commits) * 1000,
    blockedShare: commitS / elapsedS,
  };
}
