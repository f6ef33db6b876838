/**
 * aedes-persistence's own abstract test suite (`abstract.js`, shipped in the package), run
 * against Baton's SQLite session store on a real database file. The suite is written for
 * node:test; `nodeTestContext` gives each vitest test the `t.plan`/`t.assert`/`t.diagnostic`
 * it expects, and checks the plan.
 */
import assert from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.js';
import { SqliteSessionStore } from './sqlite-session-store.js';

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (opts: object) => void;

const dir = mkdtempSync(join(tmpdir(), 'baton-sessions-suite-'));
const stores: SqliteStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function nodeTestContext() {
  let planned: number | undefined;
  let asserted = 0;
  const counted = new Proxy(assert, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        asserted += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    t: { plan: (n: number) => (planned = n), assert: counted, diagnostic: () => undefined },
    checkPlan: () => planned === undefined || expect(asserted, 'assertions made against t.plan').toBe(planned),
  };
}

abstractSuite({
  test: (name: string, fn: (t: object) => Promise<void>) =>
    it(name, async () => {
      const { t, checkPlan } = nodeTestContext();
      await fn(t);
      checkPlan();
    }),
  persistence: () => {
    const store = openSqliteStore({ dataDir: join(dir, String(stores.length)), healthHistoryLimit: 10 });
    stores.push(store);
    return new SqliteSessionStore({
      db: store.db,
      writer: store.writer,
      limits: { maxQueued: 1000, maxQueuedBytes: 1024 * 1024, expiryMs: 86_400_000, maxRetained: 10_000 },
    });
  },
  testAsync: true,
});
