/**
 * Block delivery: one queue per device, served independently, so a slow device never stalls the
 * others. A queue holds runs of block indices, read from disk only when their turn comes (queued
 * blocks hold no image bytes).
 *
 * The send path, a batch at a time (up to `MAX_BATCH_BYTES` of consecutive blocks of a run, and
 * at most twice what the buckets last granted at once): one positioned read puts the blocks into
 * one buffer that already holds their MQTT PUBLISH packets (block-frames.ts); each block is paid
 * for in the pacing buckets, and whatever they grant is written at once, in one write, to the
 * device's connection. So an unpaced run of 64 blocks is one read and one write, and a paced
 * block is still written the moment it is granted. `onSent` is called once a write, not once a
 * block: behind it the jobs feature counts delivered bytes in SQLite, which per block was half of
 * the broker's CPU in bench/firmware.ts.
 *
 * Why past aedes (Publisher.packetWriter): through `aedes.publish` every block is a packet object,
 * a pass through the emitter (one of its 100 concurrent deliveries), a deferred write and a
 * corked write of its pieces; a run can only be one write if it bypasses all of that. Nothing is
 * lost by it:
 * - ACL: only the device itself may receive `devices/{id}/streams/…` (broker/mqtt/acl.ts), so its
 *   own connection is the only place a block can go; the writer checks the same ACL as aedes'
 *   delivery and counts messages and bytes out like it.
 * - QoS 0: a block goes only if one of the device's subscriptions matches its topic; otherwise,
 *   or if the device is not connected, it is dropped, as aedes drops a QoS 0 message no one wants.
 * - Backpressure: a write finishes once its bytes are handed to the socket, after a `drain` if its
 *   buffer was full, with aedes' drain timeout disconnecting a client that never reads (aedes'
 *   own write rule). A device has at most `PIPELINE_DEPTH` writes unfinished, so a device that
 *   reads slowly only ever slows its own queue; all devices together at most `MAX_UNFINISHED`.
 * - Telemetry: blocks no longer take slots of aedes' emitter, so they cannot hold up telemetry,
 *   shadows or replies to other clients at all.
 *
 * Bounds: a device has at most `maxOutstanding` distinct blocks queued (`RateLimited` beyond); a
 * block asked for again while still queued is not queued twice, so re-requests after a timeout
 * cost nothing.
 */
import type { Logger } from 'pino';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import { filterMatches } from '../../device-sdk/protocol/topic-filter.js';
import { topics } from '../../device-sdk/protocol/topics.js';
import { filterCovers } from '../mqtt/acl.js';
import type { PacketWriter, Publisher } from '../mqtt/publisher.js';
import type { Pacing } from '../../firmware-updates/pacing.js';
import { blockFrame, packetFrame, type Frame } from './block-frames.js';
import type { ServedFirmware } from './served.js';

/** A firmware as delivery reads it (served.ts). */
export type DeliverySource = Pick<ServedFirmware, 'id' | 'blockBytes' | 'readBlocks' | 'chunkTable'>;

/** A firmware's chunk table, where a queue keeps block indices. */
const CHUNK_TABLE = -1;

/** Blocks `first`..`first + count - 1` of a firmware, or (`first` CHUNK_TABLE, `count` 1) its chunk table. */
interface Run {
  firmware: DeliverySource;
  first: number;
  count: number;
}

type Site = { id: string; uplinkBytesPerSec: number } | undefined;

/**
 * The most block bytes read and written at once: a whole request of 64 blocks of 16 KiB, and a
 * bound on what one unfinished write holds in memory.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** Writes unfinished per device: one on its way to the socket while the next is read. */
export const PIPELINE_DEPTH = 2;
/**
 * Writes unfinished over all devices: what firmware may hold in memory for sockets that are full,
 * at most this many batches (32 MiB), however many devices stopped reading.
 */
export const MAX_UNFINISHED = 32;

interface DeviceQueue {
  deviceId: string;
  site: Site;
  runs: Run[];
  /** The queued block indices of each firmware (CHUNK_TABLE for its chunk table). */
  queued: Map<string, Set<number>>;
  /** Blocks queued, chunk tables included. */
  size: number;
  /** The most blocks one write of the last batch of blocks carried, what the buckets grant at once: the next batch reads at most twice that. */
  grant: number;
  inFlight: number;
  running: boolean;
}

export interface DeliveryOptions {
  publisher: Publisher;
  pacing: Pacing;
  maxOutstanding: number;
  log: Logger;
  /** Bytes handed to a device's socket, in the tick the limiter granted them. */
  onSent?(deviceId: string, firmwareId: string, bytes: number): void;
  /** Asked before each block: false drops the device's queued blocks of that firmware (its window closed); it asks again later. */
  mayStream?(deviceId: string, firmwareId: string): boolean;
}

export function createDelivery({ publisher, pacing, maxOutstanding, log, onSent, mayStream }: DeliveryOptions) {
  const queues = new Map<string, DeviceQueue>();
  /** Queues that stopped because all `MAX_UNFINISHED` slots were taken, in the order they stopped. */
  const waitingForSlot = new Set<DeviceQueue>();
  let unfinished = 0;
  const sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  let closed = false;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = { timer: setTimeout(() => wake(), ms), wake: () => wake() };
      const wake = () => {
        clearTimeout(sleeper.timer);
        sleepers.delete(sleeper);
        resolve();
      };
      sleepers.add(sleeper);
    });
  }

  /** False once the queue was dropped (device gone) or delivery closed. */
  const live = (q: DeviceQueue) => !closed && queues.get(q.deviceId) === q;

  /**
   * Waits until the device's buckets grant the whole block in one take. A block larger than a
   * bucket's depth passes a full bucket and leaves it in debt (firmware-updates/token-bucket.ts),
   * so what is granted is sent at once, never a block whose slices were paid over time.
   */
  async function pay(q: DeviceQueue, bytes: number, firmwareId: string): Promise<boolean> {
    for (;;) {
      if (!live(q) || mayStream?.(q.deviceId, firmwareId) === false) return false;
      const limiter = pacing.limiterFor(q.deviceId, q.site);
      if (limiter.tryTake(bytes)) return true;
      await sleep(Math.max(1, limiter.timeUntil(bytes)));
    }
  }

  /** Frees a pipeline slot (the device's and the broker-wide one), taken before a batch's read. */
  function release(q: DeviceQueue): void {
    q.inFlight--;
    unfinished--;
    for (const waiting of waitingForSlot) {
      waitingForSlot.delete(waiting);
      if (live(waiting)) {
        void run(waiting);
        break;
      }
    }
    void run(q);
  }

  /** Serves a queue, a batch at a time, while it has pipeline slots. */
  async function run(q: DeviceQueue): Promise<void> {
    if (q.running) return;
    q.running = true;
    try {
      while (live(q) && q.inFlight < PIPELINE_DEPTH && q.runs.length > 0) {
        const head = q.runs[0]!;
        if (mayStream?.(q.deviceId, head.firmware.id) === false) {
          dropDeviceFirmware(q, head.firmware.id);
          continue;
        }
        // Wait for the buckets before taking a slot: a device paced to its own slow link would
        // otherwise hold one of the MAX_UNFINISHED slots for a whole block's wait, and a few dozen
        // such devices would hold back every other download (measured: sites at 0.65 of their
        // budgets with 10,000 devices). Another device may still take the tokens meanwhile;
        // serveBatch then waits for them with its slot, as before.
        const wait = head.first === CHUNK_TABLE ? 0 : pacing.limiterFor(q.deviceId, q.site).timeUntil(head.firmware.blockBytes(head.first));
        if (wait > 0) {
          await sleep(wait);
          continue;
        }
        if (unfinished >= MAX_UNFINISHED) {
          waitingForSlot.add(q);
          break;
        }
        q.inFlight++;
        unfinished++;
        await serveBatch(q, head);
      }
    } finally {
      q.running = false;
      if (q.runs.length === 0 && q.inFlight === 0 && live(q)) queues.delete(q.deviceId);
    }
  }

  /**
   * Reads, pays for and writes the next batch of the head run, holding one pipeline slot until
   * its last write finishes. Each block is paid before it is written and written in the tick it
   * is granted, so the bytes the limiter grants are the bytes handed to the socket, then and there.
   */
  async function serveBatch(q: DeviceQueue, head: Run): Promise<void> {
    const writes = { issued: 0, finished: 0, done: false };
    const settle = () => {
      if (writes.done && writes.finished === writes.issued) release(q);
    };
    const fw = head.firmware.id;
    const first = head.first;
    /** The most blocks one write of this batch carries. */
    let largest = 0;
    try {
      const batch = await readBatch(q, head, 2 * q.grant);
      if (!batch) return;
      const { frame, writer } = batch;
      const n = frame.ends.length;
      /** Still the head run, from the same block, and still wanted: nothing dropped it while paying. */
      const current = (sent: number) => live(q) && q.runs[0] === head && head.first === first + sent && mayStream?.(q.deviceId, fw) !== false;
      for (let sent = 0; sent < n && current(sent); ) {
        // Everything the buckets grant now goes in one write. When they grant nothing, a batch
        // waits for its first block only: the rest stays queued (blocks leave the queue only as
        // they are written) for the next batch, sized to what the buckets grant. So a paced device
        // holds a slot and a read for one block's wait, and an unpaced one gets whole batches.
        let granted = sent;
        const limiter = pacing.limiterFor(q.deviceId, q.site);
        while (granted < n && limiter.tryTake(frame.payloads[granted]!)) granted++;
        if (granted === sent) {
          if (sent > 0 || !(await pay(q, frame.payloads[sent]!, fw)) || !current(sent)) break;
          granted = sent + 1;
        }
        let payloadBytes = 0;
        for (let k = sent; k < granted; k++) payloadBytes += frame.payloads[k]!;
        largest = Math.max(largest, granted - sent);
        // Counted at the grant, before the write: a large write may take a while to copy to the socket.
        onSent?.(q.deviceId, fw, payloadBytes);
        writes.issued++;
        const start = sent === 0 ? 0 : frame.ends[sent - 1]!;
        const packetEnds = frame.ends.slice(sent, granted).map((end) => end - start);
        writer.write(frame.bytes.subarray(start, frame.ends[granted - 1]), packetEnds, payloadBytes, (err) => {
          if (err) log.debug({ err, deviceId: q.deviceId, firmwareId: fw }, 'firmware blocks not delivered');
          writes.finished++;
          settle();
        });
        consume(q, head, granted - sent);
        sent = granted;
      }
    } finally {
      if (largest > 0 && first !== CHUNK_TABLE) q.grant = largest;
      writes.done = true;
      settle();
    }
  }

  /**
   * The head run's next batch as PUBLISH packets, with the connection to write it to. Blocks that
   * cannot go anywhere are dropped instead, as aedes drops a QoS 0 message no one wants: the
   * device is not connected here, or no subscription of it matches; so are blocks that cannot be
   * read (their firmware was deleted meanwhile).
   */
  async function readBatch(q: DeviceQueue, head: Run, limit: number): Promise<{ frame: Frame; writer: PacketWriter } | undefined> {
    const { firmware, first } = head;
    if (first === CHUNK_TABLE) {
      const topic = topics.chunkTable(q.deviceId, firmware.id);
      const writer = publisher.packetWriter(q.deviceId, topic);
      if (!writer || !writer.filters.some((f) => filterMatches(f, topic))) {
        consume(q, head, 1);
        return undefined;
      }
      try {
        return { frame: packetFrame(topic, await firmware.chunkTable()), writer };
      } catch (err) {
        log.warn({ err, deviceId: q.deviceId, firmwareId: firmware.id }, 'chunk table not readable; dropped');
        if (q.runs[0] === head) consume(q, head, 1);
        return undefined;
      }
    }
    const prefix = topics.streamData(q.deviceId, firmware.id, 0).slice(0, -1);
    const writer = publisher.packetWriter(q.deviceId, `${prefix}${first}`);
    if (!writer) {
      consume(q, head, head.count);
      return undefined;
    }
    // A subscription that matches every block (`…/streams/{firmwareId}/#`, as the protocol asks)
    // takes whole batches; any other is matched block by block, in batches of one.
    let count = 1;
    if (writer.filters.some((f) => filterCovers(f, `${prefix}+`))) {
      const most = Math.min(head.count, limit);
      for (let bytes = firmware.blockBytes(first); count < most && bytes + firmware.blockBytes(first + count) <= MAX_BATCH_BYTES; count++) {
        bytes += firmware.blockBytes(first + count);
      }
    } else if (!writer.filters.some((f) => filterMatches(f, `${prefix}${first}`))) {
      consume(q, head, 1);
      return undefined;
    }
    try {
      // Dropped while reading (device gone, firmware deleted, window closed)? The caller checks.
      return { frame: await blockFrame(firmware, Buffer.from(prefix), first, count), writer };
    } catch (err) {
      log.warn({ err, deviceId: q.deviceId, firmwareId: firmware.id, first, count }, 'firmware blocks not readable; dropped');
      if (q.runs[0] === head && head.first === first) consume(q, head, count);
      return undefined;
    }
  }

  /** Takes `count` blocks off the front of the head run (sent, or dropped). */
  function consume(q: DeviceQueue, head: Run, count: number): void {
    const queued = q.queued.get(head.firmware.id);
    for (let i = head.first; i < head.first + count; i++) queued?.delete(i);
    if (queued?.size === 0) q.queued.delete(head.firmware.id);
    q.size -= count;
    head.first += count;
    head.count -= count;
    if (head.count === 0) q.runs.shift();
  }

  /** Drops a device's queued blocks of one firmware (its window closed, or the firmware was deleted). */
  function dropDeviceFirmware(q: DeviceQueue, firmwareId: string): void {
    q.size -= q.queued.get(firmwareId)?.size ?? 0;
    q.queued.delete(firmwareId);
    q.runs = q.runs.filter((r) => r.firmware.id !== firmwareId);
  }

  return {
    /**
     * Queues a firmware's blocks (ascending, as a request lists them), or its chunk table, for a
     * device; blocks still queued are not queued again. `RateLimited` over the bound.
     */
    enqueue(deviceId: string, site: Site, firmware: DeliverySource, blocks: readonly number[] | 'chunk-table'): void {
      if (closed) throw new BatonError('Unavailable', 'The broker is stopping.');
      let q = queues.get(deviceId);
      const queuedOfFirmware = q?.queued.get(firmware.id);
      const fresh = (blocks === 'chunk-table' ? [CHUNK_TABLE] : blocks).filter((i) => !queuedOfFirmware?.has(i));
      const queued = q?.size ?? 0;
      if (queued + fresh.length > maxOutstanding) {
        throw new BatonError('RateLimited', `At most ${maxOutstanding} blocks may be outstanding; ${queued} are queued.`, { outstanding: queued });
      }
      if (!q) {
        q = { deviceId, site, runs: [], queued: new Map(), size: 0, grant: Infinity, inFlight: 0, running: false };
        queues.set(deviceId, q);
      }
      q.site = site;
      let indices = q.queued.get(firmware.id);
      if (!indices) q.queued.set(firmware.id, (indices = new Set()));
      for (const i of fresh) {
        indices.add(i);
        // Consecutive blocks of one firmware join the run before them: one read and one write later.
        const last = q.runs.at(-1);
        if (last && i !== CHUNK_TABLE && last.first !== CHUNK_TABLE && last.firmware.id === firmware.id && last.first + last.count === i) last.count++;
        else q.runs.push({ firmware, first: i, count: 1 });
      }
      q.size += fresh.length;
      void run(q);
    },
    /** The device disconnected: its queued blocks would go nowhere (QoS 0), so they are dropped. */
    dropDevice(deviceId: string): void {
      queues.delete(deviceId);
    },
    /** The firmware was deleted: nothing more of it is sent. */
    dropFirmware(firmwareId: string): void {
      for (const q of queues.values()) dropDeviceFirmware(q, firmwareId);
    },
    outstanding: (deviceId: string) => queues.get(deviceId)?.size ?? 0,
    close(): void {
      closed = true;
      queues.clear();
      waitingForSlot.clear();
      for (const s of [...sleepers]) s.wake();
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
