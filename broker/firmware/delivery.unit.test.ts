import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { codeOf } from '../../device-sdk/firmware/test-fixtures.js';
import type { Publisher } from '../mqtt/publisher.js';
import { createDelivery, MAX_UNFINISHED, PIPELINE_DEPTH, type DeliveryJob } from './delivery.js';
import { createPacing } from './pacing.js';

/** A publisher whose publishes finish only when the test says so (a socket that is full until then). */
function heldPublisher() {
  const sent: string[] = [];
  const pending: Array<() => void> = [];
  const publisher: Publisher = {
    publish: (topic) => {
      sent.push(topic);
      return new Promise<void>((resolve) => pending.push(resolve));
    },
  };
  return { publisher, sent, finishAll: () => pending.splice(0).forEach((f) => f()) };
}

const job = (deviceId: string, index: number, bytes = 100): DeliveryJob => ({
  key: `fw/${index}`,
  firmwareId: 'fw',
  topic: `${deviceId}/${index}`,
  read: async () => Buffer.alloc(bytes),
});
const jobs = (deviceId: string, from: number, count: number, bytes?: number) =>
  Array.from({ length: count }, (_, i) => job(deviceId, from + i, bytes));

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function setup(options: { maxOutstanding?: number; globalBytesPerSec?: number; burstBytes?: number } = {}) {
  const held = heldPublisher();
  const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: options.globalBytesPerSec ?? 0, burstBytes: options.burstBytes ?? 1000, clock: { now: () => Date.now() } });
  const delivery = createDelivery({ publisher: held.publisher, pacing, maxOutstanding: options.maxOutstanding ?? 256, log: pino({ level: 'silent' }) });
  return { ...held, delivery };
}

describe('firmware delivery queues', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends in order, at most PIPELINE_DEPTH unfinished per device, and the next as each finishes', async () => {
    const { delivery, sent, finishAll } = setup();
    delivery.enqueue('a', undefined, jobs('a', 0, 10));
    await settle();
    expect(sent).toEqual(['a/0', 'a/1', 'a/2', 'a/3'].slice(0, PIPELINE_DEPTH));
    finishAll();
    await settle();
    expect(sent).toHaveLength(2 * PIPELINE_DEPTH);
    delivery.close();
  });

  it('caps firmware at MAX_UNFINISHED publishes over all devices, shared among them', async () => {
    const { delivery, sent } = setup();
    for (let d = 0; d < 20; d++) delivery.enqueue(`d${d}`, undefined, jobs(`d${d}`, 0, 10));
    await settle();
    expect(sent).toHaveLength(MAX_UNFINISHED);
    expect(new Set(sent.map((t) => t.split('/')[0])).size).toBe(20);
    delivery.close();
  });

  it('keeps serving a device while another never finishes a publish', async () => {
    const sent: string[] = [];
    const publisher: Publisher = {
      publish: async (topic) => {
        sent.push(topic);
        if (topic.startsWith('slow/')) await new Promise<void>(() => undefined);
      },
    };
    const pacing = createPacing({ deviceBytesPerSec: 0, globalBytesPerSec: 0, burstBytes: 1000, clock: { now: () => Date.now() } });
    const delivery = createDelivery({ publisher, pacing, maxOutstanding: 256, log: pino({ level: 'silent' }) });
    delivery.enqueue('slow', undefined, jobs('slow', 0, 100));
    delivery.enqueue('fast', undefined, jobs('fast', 0, 100));
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 50 && delivery.outstanding('fast') > 0; i++) await settle();
    expect(sent.filter((t) => t.startsWith('fast/'))).toHaveLength(100);
    expect(sent.filter((t) => t.startsWith('slow/'))).toHaveLength(PIPELINE_DEPTH);
    delivery.close();
  });

  it('does not queue a block twice, and refuses a request over the bound with RateLimited', async () => {
    const { delivery } = setup({ maxOutstanding: 64, globalBytesPerSec: 1, burstBytes: 100 });
    delivery.enqueue('a', undefined, jobs('a', 0, 64));
    await settle();
    const queued = delivery.outstanding('a');
    delivery.enqueue('a', undefined, jobs('a', 1, 63)); // all still queued
    expect(delivery.outstanding('a')).toBe(queued);
    expect(await codeOf(() => delivery.enqueue('a', undefined, jobs('a', 64, 2)))).toBe('RateLimited');
    delivery.dropDevice('a');
    expect(delivery.outstanding('a')).toBe(0);
    delivery.close();
  });

  it('never grants more than rate × window + burst in any window (the limiter\'s own accounting)', async () => {
    const grants: Array<[number, number]> = [];
    const pacing = createPacing({ deviceBytesPerSec: 2000, globalBytesPerSec: 1000, burstBytes: 300, clock: { now: () => Date.now() } });
    const publisher: Publisher = { publish: async () => undefined };
    const delivery = createDelivery({ publisher, pacing, maxOutstanding: 256, log: pino({ level: 'silent' }), onSent: (_d, _f, bytes) => grants.push([Date.now(), bytes]) });
    for (const [d, bytes] of [['a', 70], ['b', 90], ['c', 110]] as const) delivery.enqueue(d, undefined, jobs(d, 0, 40, bytes));
    // Uneven steps of the fake clock, as timers fire late on a busy event loop.
    for (let t = 0; t < 12_000; t += 1 + (t % 7)) await vi.advanceTimersByTimeAsync(1 + (t % 7));
    let worst = 0;
    for (let i = 0; i < grants.length; i++) {
      let sum = 0;
      for (let j = i; j < grants.length; j++) {
        sum += grants[j]![1];
        worst = Math.max(worst, sum - (1000 * (grants[j]![0] - grants[i]![0])) / 1000);
      }
    }
    expect(grants.length).toBeGreaterThan(100);
    expect(worst).toBeLessThanOrEqual(300);
    delivery.close();
  });

  it('paces by the global bucket, and close() leaves no timer behind', async () => {
    const { delivery, sent, finishAll } = setup({ globalBytesPerSec: 1000, burstBytes: 100 });
    delivery.enqueue('a', undefined, jobs('a', 0, 5));
    await settle();
    expect(sent).toEqual(['a/0']); // the full bucket's 100 bytes
    for (const expected of [2, 3]) {
      finishAll();
      await vi.advanceTimersByTimeAsync(100); // 100 bytes at 1000 B/s
      expect(sent).toHaveLength(expected);
    }
    expect(vi.getTimerCount()).toBe(1);
    delivery.close();
    await settle();
    expect(vi.getTimerCount()).toBe(0);
  });
});
