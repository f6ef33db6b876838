import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { codeOf } from '../../device-sdk/firmware/test-fixtures.js';
import { parseTopic } from '../../device-sdk/protocol/topics.js';
import type { Publisher } from '../mqtt/publisher.js';
import { createDelivery, MAX_BATCH_BYTES, MAX_UNFINISHED, PIPELINE_DEPTH, type DeliverySource } from './delivery.js';
import { createPacing, DEFAULT_MAX_DEPTH_BYTES } from '../../firmware-updates/pacing.js';

/** `{device}/{block}` (or `{device}/chunk-table`) for each PUBLISH in a write, read with mqtt-packet's parser as a client reads it. */
function packetsOf(frame: Buffer): string[] {
  const parser = mqttPacket.parser();
  const out: string[] = [];
  parser.on('packet', (p) => {
    const parsed = parseTopic((p as IPublishPacket).topic)!;
    out.push(`${parsed.params.deviceId}/${parsed.params.blockIndex ?? 'chunk-table'}`);
  });
  parser.parse(frame);
  return out;
}

/**
 * A publisher whose packet writes finish only when the test says so (a socket that is full until
 * then), or `atOnce`. Every device is connected and subscribed to `filters` under its own id (the
 * protocol's `…/streams/{firmwareId}/#` by default), unless listed in `offline`.
 */
function heldPublisher(options: { filters?: string[]; atOnce?: boolean; neverFinish?: (deviceId: string) => boolean; offline?: string[] } = {}) {
  const sent: string[] = [];
  const writes: string[][] = [];
  const pending: Array<() => void> = [];
  const publisher: Publisher = {
    publish: async () => undefined,
    packetWriter: (deviceId) => (options.offline?.includes(deviceId) ? undefined : {
      filters: (options.filters ?? ['devices/{id}/streams/fw/#']).map((f) => f.replace('{id}', deviceId)),
      write(frame, packetEnds, _payloadBytes, done) {
        const blocks = packetsOf(frame);
        expect(blocks).toHaveLength(packetEnds.length);
        expect(packetEnds.at(-1)).toBe(frame.length);
        sent.push(...blocks);
        writes.push(blocks);
        if (options.atOnce) queueMicrotask(() => done());
        else if (!options.neverFinish?.(deviceId)) pending.push(() => done());
      },
    }),
  };
  return { publisher, sent, writes, finishAll: () => pending.splice(0).forEach((f) => f()) };
}

/** Firmware `fw`: 1,000 blocks of `bytes` each, read from memory; counts its positioned reads. */
function firmwareOf(bytes = 100) {
  const reads: Array<[first: number, count: number]> = [];
  const source: DeliverySource = {
    id: 'fw',
    blockBytes: () => bytes,
    readBlocks: async (first, count, target, offset) => {
      reads.push([first, count]);
      target.fill(first % 256, offset, offset + count * bytes);
    },
    chunkTable: async () => Buffer.alloc(32 * 1000),
  };
  return { source, reads };
}
/** Blocks `from`..`from + count - 1`; with `step` 2, every other one (runs of one block: a write each). */
const range = (from: number, count: number, step = 1) => Array.from({ length: count }, (_, i) => from + i * step);

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** Production's pacing on the fake timers' clock. */
const pacingOf = (deviceBytesPerSec: number, globalBytesPerSec: number) =>
  createPacing({ deviceBytesPerSec, globalBytesPerSec, maxDepthBytes: DEFAULT_MAX_DEPTH_BYTES, clock: { now: () => Date.now() } });

function setup(options: { maxOutstanding?: number; globalBytesPerSec?: number } = {}) {
  const held = heldPublisher();
  const pacing = pacingOf(0, options.globalBytesPerSec ?? 0);
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

  it('writes a run of consecutive blocks with one read and one write, up to MAX_BATCH_BYTES at a time', async () => {
    const { delivery, writes, finishAll } = setup();
    const small = firmwareOf(16 * 1024);
    delivery.enqueue('a', undefined, small.source, range(0, 64)); // 1 MiB: one batch
    await settle();
    expect(small.reads).toEqual([[0, 64]]);
    expect(writes).toEqual([range(0, 64).map((i) => `a/${i}`)]);
    finishAll();
    const large = firmwareOf(MAX_BATCH_BYTES / 16);
    delivery.enqueue('b', undefined, large.source, range(0, 64)); // 4 MiB: four batches
    for (let i = 0; i < 4; i++) {
      await settle();
      finishAll();
    }
    expect(large.reads).toEqual([[0, 16], [16, 16], [32, 16], [48, 16]]);
    expect(writes.slice(1).map((w) => w.length)).toEqual([16, 16, 16, 16]);
    delivery.close();
  });

  it('makes a paced device wait for one block at a time, reading no more than its buckets grant', async () => {
    // 1,000 B/s per device (a bucket of 10 B): one 100-byte block every 100 ms.
    const { publisher, sent } = heldPublisher({ atOnce: true });
    const delivery = createDelivery({ publisher, pacing: pacingOf(1000, 0), maxOutstanding: 256, log: pino({ level: 'silent' }) });
    const { source, reads } = firmwareOf(100);
    delivery.enqueue('a', undefined, source, range(0, 10));
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent).toEqual(range(0, 10).map((i) => `a/${i}`));
    // The first batch is read whole (nothing is known yet) and waits for its first block only;
    // after that each batch reads twice what was granted at once: two blocks, one sent.
    expect(reads[0]).toEqual([0, 10]);
    expect(reads.slice(1).every(([, count]) => count <= 2)).toBe(true);
    delivery.close();
  });

  it('sends in order, at most PIPELINE_DEPTH unfinished writes per device, and the next as each finishes', async () => {
    const { delivery, sent, finishAll } = setup();
    delivery.enqueue('a', undefined, firmwareOf().source, range(0, 10, 2));
    await settle();
    expect(sent).toEqual(['a/0', 'a/2', 'a/4', 'a/6'].slice(0, PIPELINE_DEPTH));
    finishAll();
    await settle();
    expect(sent).toEqual(['a/0', 'a/2', 'a/4', 'a/6', 'a/8', 'a/10', 'a/12', 'a/14'].slice(0, 2 * PIPELINE_DEPTH));
    delivery.close();
  });

  it('caps firmware at MAX_UNFINISHED writes over all devices, shared among them', async () => {
    const { delivery, writes } = setup();
    for (let d = 0; d < 20; d++) delivery.enqueue(`d${d}`, undefined, firmwareOf().source, range(0, 10, 2));
    await settle();
    expect(writes).toHaveLength(MAX_UNFINISHED);
    expect(new Set(writes.map(([t]) => t!.split('/')[0])).size).toBe(20);
    delivery.close();
  });

  it('keeps serving a device while another never finishes a write', async () => {
    const { publisher, sent, finishAll } = heldPublisher({ neverFinish: (d) => d === 'slow' });
    const delivery = createDelivery({ publisher, pacing: pacingOf(0, 0), maxOutstanding: 256, log: pino({ level: 'silent' }) });
    delivery.enqueue('slow', undefined, firmwareOf().source, range(0, 100, 2));
    delivery.enqueue('fast', undefined, firmwareOf().source, range(0, 100, 2));
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 100 && delivery.outstanding('fast') > 0; i++) {
      finishAll();
      await settle();
    }
    expect(sent.filter((t) => t.startsWith('fast/'))).toHaveLength(100);
    expect(sent.filter((t) => t.startsWith('slow/'))).toHaveLength(PIPELINE_DEPTH);
    delivery.close();
  });

  it('sends a block only where a subscription matches it (QoS 0), and drops what no one wants', async () => {
    // Subscribed to block 3 alone: the others are dropped, as aedes drops a QoS 0 message no one wants.
    const exact = heldPublisher({ filters: ['devices/{id}/streams/fw/data/3'] });
    const delivery = createDelivery({ publisher: exact.publisher, pacing: pacingOf(0, 0), maxOutstanding: 256, log: pino({ level: 'silent' }) });
    delivery.enqueue('a', undefined, firmwareOf().source, range(0, 6));
    delivery.enqueue('a', undefined, firmwareOf().source, 'chunk-table');
    for (let i = 0; i < 5; i++) await settle();
    expect(exact.sent).toEqual(['a/3']);
    expect(delivery.outstanding('a')).toBe(0);
    delivery.close();

    // Not connected here: nothing to write to, nothing kept.
    const offline = heldPublisher({ offline: ['a'] });
    const none = createDelivery({ publisher: offline.publisher, pacing: pacingOf(0, 0), maxOutstanding: 256, log: pino({ level: 'silent' }) });
    none.enqueue('a', undefined, firmwareOf().source, range(0, 6));
    await settle();
    expect(offline.sent).toEqual([]);
    expect(none.outstanding('a')).toBe(0);
    none.close();
  });

  it('sends the chunk table as one packet on its own topic', async () => {
    const { delivery, writes } = setup();
    delivery.enqueue('a', undefined, firmwareOf().source, 'chunk-table');
    await settle();
    expect(writes).toEqual([['a/chunk-table']]);
    delivery.close();
  });

  it('does not queue a block twice, and refuses a request over the bound with RateLimited', async () => {
    const { delivery } = setup({ maxOutstanding: 64, globalBytesPerSec: 1 });
    const { source } = firmwareOf();
    delivery.enqueue('a', undefined, source, range(0, 64));
    await settle();
    const queued = delivery.outstanding('a');
    delivery.enqueue('a', undefined, source, range(1, 63)); // all still queued
    expect(delivery.outstanding('a')).toBe(queued);
    expect(await codeOf(() => delivery.enqueue('a', undefined, source, range(64, 2)))).toBe('RateLimited');
    delivery.dropDevice('a');
    expect(delivery.outstanding('a')).toBe(0);
    delivery.close();
  });

  it('hands the socket at most rate × window + one block in any window, blocks larger than the depth included', async () => {
    // Global 1,000 B/s (depth 10 B), devices 2,000 B/s: every block is over the depth, so each is
    // paid on credit; several devices interleave, and what is granted is sent there and then.
    const sends: Array<[number, number]> = [];
    const { publisher } = heldPublisher({ atOnce: true });
    const delivery = createDelivery({ publisher, pacing: pacingOf(2000, 1000), maxOutstanding: 256, log: pino({ level: 'silent' }), onSent: (_d, _f, bytes) => sends.push([Date.now(), bytes]) });
    for (const [d, bytes] of [['a', 70], ['b', 90], ['c', 110]] as const) delivery.enqueue(d, undefined, firmwareOf(bytes).source, range(0, 40));
    // Uneven steps of the fake clock, as timers fire late on a busy event loop; halfway, a 3 s
    // stall (the clock jumps, no timer runs in between).
    for (let t = 0; t < 12_000; t += 1 + (t % 7)) {
      if (t === 4998) vi.setSystemTime(Date.now() + 3000);
      await vi.advanceTimersByTimeAsync(1 + (t % 7));
    }
    let worst = -Infinity;
    for (let i = 0; i < sends.length; i++) {
      let sum = 0;
      for (let j = i; j < sends.length; j++) {
        sum += sends[j]![1];
        worst = Math.max(worst, sum - (1000 * (sends[j]![0] - sends[i]![0])) / 1000 - sends[j]![1]);
      }
    }
    expect(sends.length).toBeGreaterThan(100);
    expect(worst).toBeLessThanOrEqual(0);
    delivery.close();
  });

  it('paces by the global bucket from empty, and close() leaves no timer behind', async () => {
    const { delivery, sent, finishAll } = setup({ globalBytesPerSec: 1000 });
    delivery.enqueue('a', undefined, firmwareOf().source, range(0, 5));
    await settle();
    expect(sent).toEqual([]); // a new bucket is empty: no burst
    await vi.advanceTimersByTimeAsync(10); // full at its depth, 10 ms of 1000 B/s: one block passes
    expect(sent).toEqual(['a/0']);
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
