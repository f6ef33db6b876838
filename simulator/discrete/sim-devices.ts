/**
 * The simulated devices: what each does once notified, as the SDK would. It starts (IN_PROGRESS),
 * fetches blocks until the image is in, installs, and reports its outcome; some drop offline
 * halfway and come back later, resuming where they were.
 */
import type { ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import type { PacedSite } from '../../firmware-updates/pacing.js';
import type { RolloutScheduler } from '../../rollouts/scheduler.js';
import type { BlockClient, SimBlockServer } from './sim-blocks.js';
import type { SiteMeter } from './sim-report.js';
import type { SimDevice, SimOptions } from './sim-types.js';

export type DevicePhase = 'waiting' | 'notified' | 'downloading' | 'installing' | 'done';

export interface DeviceRun extends BlockClient {
  d: SimDevice;
  phase: DevicePhase;
  status: ExecutionStatus;
  offline: boolean;
  dropped: boolean;
  /** In a released wave (counts towards "pending" for utilization). */
  released: boolean;
  pending: boolean;
}

export type DeviceEvent = { kind: 'start' | 'installed' | 'reconnect'; id: string };

/** What devices need from the rest of the simulation: the clock, the block server, and the jobs side. */
export interface DeviceHost {
  options: SimOptions;
  now(): number;
  after(ms: number, event: DeviceEvent): void;
  blocks: SimBlockServer;
  scheduler(): RolloutScheduler;
  reportStatus(run: DeviceRun, status: ExecutionStatus): void;
  tick(): void;
}

export function deviceRun(d: SimDevice, siteKey: string, pacedSite: PacedSite | undefined, meter: SiteMeter): DeviceRun {
  const { id, linkBytesPerSec } = d;
  const state = { phase: 'waiting', status: 'QUEUED', offline: false, dropped: false, released: false, pending: false } as const;
  return { id, siteKey, pacedSite, linkBytesPerSec, meter, bytes: 0, paused: false, d, ...state };
}

export class SimDevices {
  lastByteAt: number;
  lastOutcomeAt: number;

  constructor(private readonly host: DeviceHost) {
    this.lastByteAt = this.lastOutcomeAt = host.options.startAt;
  }

  handle(e: DeviceEvent, run: DeviceRun): void {
    if (e.kind === 'start') this.start(run);
    else if (e.kind === 'installed') this.finish(run);
    else this.reconnect(run);
  }

  start(run: DeviceRun): void {
    if (run.phase !== 'notified') return;
    run.phase = 'downloading';
    run.meter.downloadChange(1, run.linkBytesPerSec, this.host.now());
    this.host.reportStatus(run, 'IN_PROGRESS');
    if (run.phase === 'downloading' && !run.offline) this.host.blocks.request(run);
  }

  arrive(run: DeviceRun, n: number): void {
    if (run.phase !== 'downloading') return;
    const now = (this.lastByteAt = this.host.now());
    const size = this.host.options.job.firmwareBytes;
    run.bytes += n;
    this.host.scheduler().recordProgress(run.id, run.bytes, now);
    if (run.bytes >= size) return this.downloaded(run);
    const drop = run.d.dropAtShare;
    if (drop !== undefined && !run.dropped && run.bytes >= drop * size) return this.disconnect(run);
    this.host.blocks.request(run);
  }

  /** Stops whatever the device was doing (the job canceled its execution). */
  cancel(run: DeviceRun): void {
    if (run.phase === 'downloading') run.meter.downloadChange(-1, run.linkBytesPerSec, this.host.now());
    run.phase = 'done';
    this.refreshPending(run);
  }

  /** Pending: released, online, not yet through its download (what utilization divides by). */
  refreshPending(run: DeviceRun): void {
    const pending = run.released && !run.offline && (run.phase === 'waiting' || run.phase === 'notified' || run.phase === 'downloading');
    if (pending === run.pending) return;
    run.pending = pending;
    run.meter.pendingChange(pending ? 1 : -1, this.host.now());
  }

  private downloaded(run: DeviceRun): void {
    run.phase = 'installing';
    run.meter.downloadChange(-1, run.linkBytesPerSec, this.host.now());
    this.refreshPending(run);
    this.host.after((this.host.options.installS ?? 5) * 1000, { kind: 'installed', id: run.id });
    this.host.tick(); // a download ended: its site has budget for the next one now, not at the next timer
  }

  private finish(run: DeviceRun): void {
    if (run.phase !== 'installing') return;
    run.phase = 'done';
    this.lastOutcomeAt = this.host.now();
    this.host.reportStatus(run, run.d.outcome ?? 'SUCCEEDED');
    this.host.tick();
  }

  private disconnect(run: DeviceRun): void {
    run.dropped = run.offline = true;
    this.host.scheduler().deviceDisconnected(run.id, this.host.now());
    this.refreshPending(run);
    this.host.after((run.d.offlineS ?? 60) * 1000, { kind: 'reconnect', id: run.id });
  }

  private reconnect(run: DeviceRun): void {
    run.offline = false;
    this.host.scheduler().deviceConnected(run.id, this.host.now());
    this.refreshPending(run);
    if (run.phase === 'downloading') this.host.blocks.request(run);
  }
}
