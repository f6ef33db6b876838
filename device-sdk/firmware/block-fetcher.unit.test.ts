import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../clock.js';
import { BatonError } from '../protocol/errors.js';
import { BlockBitmap } from './bitmap.js';
import { BlockFetcher, toRuns, type BlockSink } from './block-fetcher.js';
import type { FetchTiming } from './fetch-timing.js';
import type { FirmwareManifest } from './manifest.js';
import type { BlockRun } from './stream-request.js';
import type { StreamHandlers } from './stream-session.js';
import { codeOf } from './test-fixtures.js';

const CHUNK = 256;

function setup(blocks: number, timing: Partial<FetchTiming> = {}, corrupt: (index: number, attempt: number) => boolean = () => false) {
  const requests: Array<{ token: string; runs: BlockRun[] }> = [];
  const session = {
    handlers: undefined as unknown as StreamHandlers,
    requestBlocks: (token: string, runs: BlockRun[]) => requests.push({ token, runs }),
  };
  const verified = new BlockBitmap(blocks);
  const attempts = new Map<number, number>();
  const sink: BlockSink = {
    verified,
    async accept(index) {
      const attempt = (attempts.get(index) ?? 0) + 1;
      attempts.set(index, attempt);
      if (corrupt(index, attempt)) throw new BatonError('ChunkDigestMismatch', `block ${index}`);
      if (verified.has(index)) return false;
      verified.set(index);
      return true;
    },
    isComplete: () => verified.isComplete(),
  };
  const manifest = { size: blocks * CHUNK, chunkSize: CHUNK } as FirmwareManifest;
  const fullTiming: FetchTiming = {
    window: 8, stallTimeoutMs: 1000, maxStalls: 2, maxDigestRetries: 2, storeConcurrency: 1, rateLimitedBackoffMs: 500,
    clock: systemClock, now: () => Date.now(), ...timing,
  };
  const fetcher = new BlockFetcher(session, manifest, sink, fullTiming, () => undefined);
  const asked = () => requests.flatMap(({ runs }) => runs.flatMap(([f, c]) => Array.from({ length: c }, (_, i) => f + i)));
  /** Delivers every block asked for so far and not delivered yet. */
  let delivered = 0;
  const deliverAsked = async () => {
    const all = asked();
    for (const i of all.slice(delivered)) session.handlers.data(i, Buffer.alloc(CHUNK));
    delivered = all.length;
    await vi.advanceTimersByTimeAsync(0);
  };
  return { fetcher, session, requests, asked, deliverAsked, verified };
}

describe('toRuns', () => {
  it.each([
    [[], []],
    [[5], [[5, 1]]],
    [[3, 1, 2, 7, 8, 10], [[1, 3], [7, 2], [10, 1]]],
  ])('%j → %j', (indices, runs) => {
    expect(toRuns(indices)).toEqual(runs);
  });
});

describe('BlockFetcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps at most `window` blocks outstanding, in requests of half the window', async () => {
    const { fetcher, requests, deliverAsked } = setup(20);
    const done = fetcher.run();
    expect(requests.map((r) => r.runs)).toEqual([[[0, 4]], [[4, 4]]]);
    while (requests.length < 5) await deliverAsked();
    await deliverAsked();
    await done;
    expect(requests.map((r) => r.runs).flat()).toEqual([[0, 4], [4, 4], [8, 4], [12, 4], [16, 4]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('asks again for a corrupt block alone, and fails with ChunkDigestMismatch after maxDigestRetries', async () => {
    const once = setup(8, {}, (i, attempt) => i === 5 && attempt === 1);
    const done = once.fetcher.run();
    await once.deliverAsked();
    await once.deliverAsked();
    await done;
    expect(once.requests.at(-1)!.runs).toEqual([[5, 1]]);

    const always = setup(8, {}, (i) => i === 5);
    const failing = codeOf(() => always.fetcher.run());
    for (let i = 0; i < 4; i++) await always.deliverAsked();
    expect(await failing).toBe('ChunkDigestMismatch');
  });

  it('asks again after silence, and gives up with Unavailable after maxStalls', async () => {
    const { fetcher, requests } = setup(8);
    const result = codeOf(() => fetcher.run());
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(requests.slice(2).map((r) => r.runs)).toEqual([[[0, 8]]]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await result).toBe('Unavailable');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('backs off after RateLimited, then asks for those blocks again; other codes end the download', async () => {
    const { fetcher, session, requests } = setup(8);
    const done = fetcher.run();
    session.handlers.rejected({ code: 'RateLimited', message: '', clientToken: requests[1]!.token });
    await vi.advanceTimersByTimeAsync(499);
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests.at(-1)!.runs).toEqual([[4, 4]]);
    session.handlers.rejected({ code: 'Forbidden', message: 'not yours' });
    expect(await codeOf(() => done)).toBe('Forbidden');
  });

  it('fails with TooLarge for a block beyond the image or longer than its range', async () => {
    for (const [index, length] of [[8, CHUNK], [7, CHUNK + 1]] as const) {
      const { fetcher, session } = setup(8);
      const done = codeOf(() => fetcher.run());
      session.handlers.data(index, Buffer.alloc(length));
      expect(await done).toBe('TooLarge');
    }
  });

  it('asks again at once for what was outstanding after a reconnect', async () => {
    const { fetcher, session, requests, deliverAsked } = setup(8);
    const done = fetcher.run();
    session.handlers.reconnected();
    expect(requests.slice(2).map((r) => r.runs)).toEqual([[[0, 8]]]);
    await deliverAsked();
    await done;
  });
});
