/**
 * REST fuzz campaign (issue 11): requests generated from GET /openapi.json. `npm test` sends a few
 * hundred; `npm run fuzz` ≥ 10,000. Replay a run with the FUZZ_SEED it logs; see test/fuzz/README.md.
 */
import { describe, expect, it } from 'vitest';
import { runRestCampaign } from './rest-campaign.js';
import { campaignTimeoutMs, fuzzSettings, replayHint } from './settings.js';

const settings = fuzzSettings();

describe('REST fuzzing', () => {
  it(
    `answers ${settings.restRequests} generated requests without a 5xx, every error as problem+json with a code, and stays healthy`,
    async () => {
      const { stats, findings, fatal, reportFile } = await runRestCampaign(settings);
      const summary = [
        ...(fatal ? [`FATAL: ${fatal}`] : []),
        ...findings.map((f) =>
          [
            `${f.kind} on ${f.ops.length > 1 ? `${f.ops.length} operations (e.g. ${f.op})` : f.op}: ${f.count}× (first in batch ${f.path}; replay: ${replayHint('rest', settings, f.path)})`,
            `  got ${f.example.status} ${f.example.contentType} ${f.example.body.slice(0, 200)}`,
            `  ${f.reduced ?? f.example.request}`,
            ...(f.example.previousOnConnection ? [`  after, on the same keep-alive connection: ${f.example.previousOnConnection}`] : []),
            ...f.logs.map((l) => `  log: ${l.split('\n').join('\n       ')}`),
          ].join('\n'),
        ),
      ].join('\n\n');
      expect(summary, `seed ${settings.seed}; report ${reportFile}`).toBe('');
      expect(stats.requests).toBeGreaterThanOrEqual(settings.path === undefined ? settings.restRequests : 1);
    },
    campaignTimeoutMs(settings.restRequests),
  );
});
