/**
 * How big a fuzz run is and which seed it uses, from the environment, shared by `npm test` (short
 * run) and `npm run fuzz` (long run):
 *
 *   FUZZ_RUNS=12000        packets (MQTT campaign) and requests (REST campaign) per campaign;
 *                          FUZZ_MQTT_PACKETS / FUZZ_REST_REQUESTS set one of them
 *   FUZZ_SEED=1234         replays a run (every campaign logs its seed at start and on failure)
 *   FUZZ_PATH=17           with FUZZ_SEED, replays only batch 17 (fast-check's `path`)
 *   FUZZ_REPORT_DIR=/tmp   where findings are written as JSON (default: the OS temp dir)
 *   FUZZ_TRACE=1           REST: log every request and its status (with the connection it used)
 */
import { tmpdir } from 'node:os';

export const SHORT_RUN = 300;

export interface FuzzSettings {
  seed: number;
  /** fast-check path of one batch to replay (with the seed), or undefined for the whole run. */
  path: string | undefined;
  mqttPackets: number;
  restRequests: number;
  reportDir: string;
}

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

export function fuzzSettings(): FuzzSettings {
  const runs = count('FUZZ_RUNS', SHORT_RUN);
  const rawSeed = process.env.FUZZ_SEED;
  const seed = rawSeed ? Number(rawSeed) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${rawSeed}`);
  return {
    seed,
    path: process.env.FUZZ_PATH || undefined,
    mqttPackets: count('FUZZ_MQTT_PACKETS', runs),
    restRequests: count('FUZZ_REST_REQUESTS', runs),
    reportDir: process.env.FUZZ_REPORT_DIR || tmpdir(),
  };
}

/** A generous per-test timeout for a campaign of `units` packets or requests. */
export const campaignTimeoutMs = (units: number): number => 90_000 + units * 60;

/** The line that lets anyone replay a campaign. */
export const replayHint = (campaign: 'mqtt' | 'rest', s: FuzzSettings, path?: string): string =>
  `FUZZ_SEED=${s.seed}${path !== undefined ? ` FUZZ_PATH=${path}` : ''} ${campaign === 'mqtt' ? `FUZZ_MQTT_PACKETS=${s.mqttPackets}` : `FUZZ_REST_REQUESTS=${s.restRequests}`} npx vitest run test/fuzz/${campaign}.test.ts`;

export const log = (campaign: string, message: string): void => {
  process.stdout.write(`[fuzz:${campaign}] ${message}\n`);
};
