/**
 * The simulator's block server: what the broker's block delivery (broker/firmware/delivery.ts)
 * does, on a simulated clock. A device asks for its next block; the block goes out when the
 * device's window is open and production's pacing (`createPacing`, the same limiter, one take per
 * block) grants it; otherwise it is tried again after the limiter's `timeUntil`, at least 1 ms
 * later, as delivery's `pay()` sleeps. It arrives after its size ÷ the device's real link.
 * Requests wait per site in arrival order.
 */
import type { PacedSite, Pacing } from '../../firmware-updates/pacing.js';
import type { EnvelopeMeter, SiteMeter } from './sim-report.js';
import type { MaintenanceWindows } from '../../rollouts/windows.js';

/** A downloading device as the block server sees it. */
export interface BlockClient {
  id: string;
  /** The site's key ('' for none), and the site as pacing sees it (none when the job does not know it). */
  siteKey: string;
  pacedSite: PacedSite | undefined;
  linkBytesPerSec: number;
  bytes: number;
  meter: SiteMeter;
  /** Waiting for its window to open. */
  paused: boolean;
}

export type BlockEvent = { kind: 'pump'; site: string } | { kind: 'arrive'; id: string; bytes: number };

export interface BlockServerDeps {
  pacing: Pacing;
  /** The service bucket's envelope check, when there is a service cap. */
  egress: EnvelopeMeter | undefined;
  blockBytes: number;
  firmwareBytes: number;
  now(): number;
  schedule(at: number, event: BlockEvent): void;
  windowsFor(id: string): MaintenanceWindows;
}

export class SimBlockServer {
  /** Downloads that met their window closing mid-way. */
  interruptions = 0;
  private readonly queues = new Map<string, BlockClient[]>();
  private readonly pumps = new Map<string, number>();

  constructor(private readonly d: BlockServerDeps) {}

  request(client: BlockClient): void {
    let queue = this.queues.get(client.siteKey);
    if (!queue) this.queues.set(client.siteKey, (queue = []));
    queue.push(client);
    this.pump(client.siteKey);
  }

  /** A scheduled pump; stale ones (superseded by an earlier wake) do nothing. */
  onPump(site: string): void {
    if (this.pumps.get(site) === this.d.now()) this.pump(site);
  }

  /** Sends every block the buckets allow, then sleeps until the earliest waiting one could go. */
  private pump(site: string): void {
    const now = this.d.now();
    this.pumps.delete(site);
    const queue = this.queues.get(site) ?? [];
    let wake = Infinity;
    let keep = 0;
    for (const client of queue) {
      const wait = this.trySend(client, now);
      if (wait === 0) continue;
      queue[keep++] = client;
      wake = Math.min(wake, wait);
    }
    queue.length = keep;
    if (keep > 0 && Number.isFinite(wake)) this.wake(site, wake);
  }

  /** 0 when the block went out, else when to try again. */
  private trySend(client: BlockClient, now: number): number {
    const windows = this.d.windowsFor(client.id);
    if (!windows.isInWindow(now)) {
      if (!client.paused) this.interruptions++;
      client.paused = true;
      return windows.nextWindowStart(now) ?? Infinity;
    }
    client.paused = false;
    const n = Math.min(this.d.blockBytes, this.d.firmwareBytes - client.bytes);
    const limiter = this.d.pacing.limiterFor(client.id, client.pacedSite);
    if (!limiter.tryTake(n)) return now + Math.max(1, limiter.timeUntil(n));
    client.meter.grant(now, n);
    this.d.egress?.add(now, n);
    this.d.schedule(now + (n * 1000) / client.linkBytesPerSec, { kind: 'arrive', id: client.id, bytes: n });
    return 0;
  }

  private wake(site: string, at: number): void {
    const current = this.pumps.get(site);
    if (current !== undefined && current <= at && current >= this.d.now()) return;
    this.pumps.set(site, at);
    this.d.schedule(at, { kind: 'pump', site });
  }
}
