import { describe, expect, it } from 'vitest';
import { ManualClock } from '../test-fixtures.js';
import { PacedSync } from './paced-sync.js';

/** A sync that takes `syncMs` of the manual clock (0: settles at once); `syncs` counts the finished ones. */
function setup(intervalMs = 1000, syncMs = 0) {
  const clock = new ManualClock();
  const state = { syncs: 0, running: 0, maxRunning: 0, fail: undefined as Error | undefined };
  const sync = () =>
    new Promise<void>((resolve, reject) => {
      state.maxRunning = Math.max(state.maxRunning, ++state.running);
      const settle = () => {
        state.running--;
        if (state.fail) reject(state.fail);
        else (state.syncs++, resolve());
      };
      if (syncMs === 0) settle();
      else clock.setTimeout(settle, syncMs);
    });
  const paced = new PacedSync(sync, { intervalMs, clock, now: () => clock.now });
  /** Advances the clock 1 ms at a time, letting promise callbacks run in between. */
  const tick = async (ms: number) => {
    for (let i = 0; i < ms; i++) {
      clock.advance(1);
      for (let k = 0; k < 5; k++) await Promise.resolve();
    }
  };
  return { clock, state, paced, tick };
}

describe('PacedSync', () => {
  it('syncs a write at once, then at most once per interval however many writes come', async () => {
    const { state, paced, tick } = setup(1000, 3);
    for (let ms = 0; ms < 10_000; ms++) {
      paced.request(); // a block every millisecond
      await tick(1);
    }
    expect(state.syncs).toBe(10); // started at 0, 1000, …, 9000 ms
    expect(state.maxRunning).toBe(1);
  });

  it('waits out the rest of the interval after a sync, then covers every write since', async () => {
    const { state, paced, tick } = setup(1000);
    paced.request();
    await tick(1);
    expect(state.syncs).toBe(1);
    await tick(100);
    paced.request();
    paced.request();
    await tick(800);
    expect(state.syncs).toBe(1);
    await tick(200);
    expect(state.syncs).toBe(2);
    await tick(5000);
    expect(state.syncs).toBe(2); // nothing written, nothing synced
  });

  it('flush syncs now when something is unsynced, once, and cancels the paced one', async () => {
    const { clock, state, paced, tick } = setup(1000);
    await paced.flush();
    expect(state.syncs).toBe(0);
    paced.request();
    await tick(1);
    paced.request();
    await paced.flush();
    expect(state.syncs).toBe(2);
    expect(clock.pending).toBe(0);
    await paced.flush();
    expect(state.syncs).toBe(2);
  });

  it('flush waits for a sync in progress, then syncs what was written during it', async () => {
    const { clock, state, paced, tick } = setup(1000, 50);
    paced.request();
    await tick(1);
    paced.request(); // while the first sync runs
    const flushed = paced.flush();
    await tick(120);
    await flushed;
    expect(state.syncs).toBe(2);
    expect(state.maxRunning).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('a failed sync fails the next request and the flush, never an unhandled rejection', async () => {
    const { state, paced, tick } = setup(1000);
    state.fail = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    paced.request();
    await tick(1);
    expect(() => paced.request()).toThrow('EIO');
    await expect(paced.flush()).rejects.toThrow('EIO');
  });
});
