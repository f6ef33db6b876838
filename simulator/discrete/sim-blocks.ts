/**
 * The simulator's block server: what the broker's firmware block endpoint does, on a simulated
 * clock. A device asks for its next block; the block goes out when the device's, the site's and the
 * service's buckets all allow it (`RolloutPacing`) and the device's window is open; it arrives after
 * its size ÷ the device's real link. Requests wait per site in arrival order.
 */
import type { RolloutPacing } from '../../rollouts/pacing.js';
import type { EnvelopeMeter, SiteMeter } from './sim-report.js';
import type { MaintenanceWindows } from '../../rollouts/windows.js';

/** A downloading device as the block server sees it. */
export interface BlockClient {
  id: string;
  /** The site's key ('' for none) and the site id the buckets know it by. */
  siteKey: string;
  site: string | null;
  linkKbps?: number | undefined;
  linkBytesPerSec: number;
  bytes: number;
  meter: SiteMeter;
  /** Waiting for its window to open. */
  paused: boolean;
}

export type BlockEvent = { kind: 'pump'; site: string } | { kind: 'arrive'; id: string; bytes: number };

export interface BlockServerDeps {
  pacing: RolloutPacing;
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
    const siteBucket = this.d.pacing.site(queue[0]?.site ?? null);
    let wake = Infinity;
    let keep = 0;
    for (const client of queue) {
      const wait = this.trySend(client, siteBucket, now);
      if (wait === 0) continue;
      queue[keep++] = client;
      wake = Math.min(wake, wait);
    }
    queue.length = keep;
    if (keep > 0 && Number.isFinite(wake)) this.wake(site, wake);
  }

  /** 0 when the block went out, else when to try again. */
  private trySend(client: BlockClient, siteBucket: ReturnType<RolloutPacing['site']>, now: number): number {
    const windows = this.d.windowsFor(client.id);
    if (!windows.isInWindow(now)) {
      if (!client.paused) this.interruptions++;
      client.paused = true;
      return windows.nextWindowStart(now) ?? Infinity;
    }
    client.paused = false;
    const n = Math.min(this.d.blockBytes, this.d.firmwareBytes - client.bytes);
    // When the site's or the service's bucket is short, nobody here can go: skip the device's limiter.
    const egress = this.d.pacing.egress;
    if (siteBucket && !siteBucket.canTake(n)) return now + Math.max(1, siteBucket.timeUntil(n));
    if (egress && !egress.canTake(n)) return now + Math.max(1, egress.timeUntil(n));
    const limiter = this.d.pacing.limiterFor(client);
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
