/**
 * A discrete-event simulation of one rollout: the real scheduler, production's pacing
 * (`createPacing`, built as the broker builds it) on a simulated clock, and simulated devices with
 * their own link speeds, sites, failures and disconnects. Devices fetch the image block by block, as the SDK does: ask,
 * wait for the buckets, receive at their link speed, ask again. The simulator plays the jobs
 * feature's part exactly as the README says it should (events in, `tick`, decisions out), so it
 * also checks that contract. Runs 10,000 devices in seconds; used by tests and the bench.
 */
import type { ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import { createPacing, DEFAULT_MAX_DEPTH_BYTES, PACING_SWEEP_INTERVAL_MS, type Pacing } from '../../firmware-updates/pacing.js';
import { budgetOf, siteOf, type SchedulerConfig } from '../../rollouts/config.js';
import { lowerBoundS } from '../../rollouts/forecast.js';
import { kbpsToBytesPerSec } from '../../rollouts/rates.js';
import { RolloutScheduler, type Decision, type RolloutEvent, type StatusChange } from '../../rollouts/scheduler.js';
import { SimBlockServer, type BlockEvent } from './sim-blocks.js';
import { SimClock } from './sim-clock.js';
import { deviceRun, SimDevices, type DeviceEvent, type DeviceRun } from './sim-devices.js';
import { buildReport, EnvelopeMeter, SiteMeter } from './sim-report.js';
import type { SimOptions, SimReport } from './sim-types.js';

type SimEvent = BlockEvent | DeviceEvent | { kind: 'tick' } | { kind: 'restart' };

export type { SimDevice, SimOptions, SimReport } from './sim-types.js';

export function simulate(options: SimOptions): SimReport {
  return new FleetSim(options).run();
}

class FleetSim {
  private readonly clock: SimClock<SimEvent>;
  private readonly config: SchedulerConfig;
  private scheduler: RolloutScheduler;
  private readonly pacing: Pacing;
  private readonly blocks: SimBlockServer;
  private readonly devices: SimDevices;
  private readonly runs = new Map<string, DeviceRun>();
  private readonly meters = new Map<string, SiteMeter>();
  private readonly egress: EnvelopeMeter | undefined;
  private readonly events: RolloutEvent[] = [];
  private stopped = false;
  private nextSweepAt: number;
  private counters = { admitted: 0, admittedAfterStop: 0 };

  constructor(private readonly o: SimOptions) {
    const clock = (this.clock = new SimClock(o.startAt));
    this.nextSweepAt = o.startAt + PACING_SWEEP_INTERVAL_MS;
    this.config = { ...o.job, targets: o.devices.map((d) => ({ id: d.id, site: d.site, linkKbps: d.linkKbps, timeZone: d.timeZone, windows: d.windows })) };
    this.scheduler = RolloutScheduler.create(this.config);
    const { siteShare, egressBytesPerSec, firmwareBytes } = o.job;
    // As broker/firmware/feature.ts builds it, with the rollouts' hook for a device's own rate
    // (its reported link, broker/rollouts) and no default per-device cap.
    const egress = egressBytesPerSec !== undefined && Number.isFinite(egressBytesPerSec) ? egressBytesPerSec : 0;
    const pacing = (this.pacing = createPacing({
      deviceBytesPerSec: 0,
      globalBytesPerSec: egress,
      maxDepthBytes: this.maxDepth,
      ...(siteShare !== undefined ? { siteShare } : {}),
      clock,
      deviceRate: (id) => {
        const kbps = this.scheduler.config.targets.get(id)?.linkKbps;
        return kbps !== undefined && kbps > 0 ? kbpsToBytesPerSec(kbps) : undefined;
      },
    }));
    this.egress = egress > 0 ? new EnvelopeMeter(egress, o.blockBytes, this.maxDepth) : undefined;
    const now = () => clock.now();
    const schedule = (at: number, event: BlockEvent) => clock.at(at, event);
    this.blocks = new SimBlockServer({ pacing, egress: this.egress, blockBytes: o.blockBytes, firmwareBytes, now, schedule, windowsFor: (id) => this.scheduler.windowsFor(id) });
    this.devices = new SimDevices({
      options: o,
      now,
      after: (ms, event) => clock.after(ms, event),
      blocks: this.blocks,
      scheduler: () => this.scheduler,
      reportStatus: (run, status) => this.reportStatus(run, status),
      tick: () => this.tick(),
    });
    for (const d of o.devices) {
      const site = siteOf(this.scheduler.config, d.id);
      this.runs.set(d.id, deviceRun(d, site, this.scheduler.config.sites.get(site), this.meterOf(d.id)));
    }
    for (const s of o.restartAtS ?? []) clock.at(o.startAt + s * 1000, { kind: 'restart' });
  }

  run(): SimReport {
    const limit = this.o.startAt + (this.o.limitS ?? 30 * 86_400) * 1000;
    this.clock.at(this.o.startAt, { kind: 'tick' });
    for (let e = this.clock.next(); e && this.clock.now() <= limit; e = this.clock.next()) this.handle(e);
    return this.report();
  }

  private handle(e: SimEvent): void {
    switch (e.kind) {
      case 'tick':
        this.sweep();
        this.tick();
        if (!this.quiet()) this.clock.after((this.o.tickS ?? 1) * 1000, e);
        return;
      case 'pump':
        return this.blocks.onPump(e.site);
      case 'arrive':
        return this.devices.arrive(this.device(e.id), e.bytes);
      case 'restart':
        this.scheduler = RolloutScheduler.restore(this.config, JSON.parse(JSON.stringify(this.scheduler.toJSON())));
        return;
      default:
        return this.devices.handle(e, this.device(e.id));
    }
  }

  // --- the jobs feature's side of the contract (README: events in, tick, decisions out) ----------

  private tick(): void {
    this.apply(this.scheduler.tick(this.clock.now()));
  }

  private reportStatus(run: DeviceRun, status: ExecutionStatus): void {
    run.status = status;
    this.apply(this.scheduler.recordStatus(run.id, status, this.clock.now()));
  }

  private apply(d: Decision | StatusChange): void {
    for (const ev of d.events) this.onEvent(ev);
    for (const id of d.cancel) this.cancel(this.device(id));
    for (const id of 'admit' in d ? d.admit : []) {
      this.counters.admitted++;
      if (this.stopped) this.counters.admittedAfterStop++;
      this.device(id).phase = 'notified';
      this.clock.after((this.o.notifyLatencyS ?? 0.2) * 1000, { kind: 'start', id });
    }
  }

  private onEvent(ev: RolloutEvent): void {
    this.events.push(ev);
    if (ev.type === 'stopped') this.stopped = true;
    if (ev.type !== 'wave-released') return;
    for (const id of this.scheduler.view.waves[ev.wave] ?? []) {
      this.device(id).released = true;
      this.devices.refreshPending(this.device(id));
    }
  }

  private cancel(run: DeviceRun): void {
    if (run.phase === 'done') return;
    this.devices.cancel(run);
    this.reportStatus(run, 'CANCELED');
  }

  // --- bookkeeping ------------------------------------------------------------------------------

  /** As the broker's sweeper timer: idle buckets are dropped, and start empty when used again. */
  private sweep(): void {
    if (this.clock.now() < this.nextSweepAt) return;
    this.pacing.sweep();
    this.nextSweepAt = this.clock.now() + PACING_SWEEP_INTERVAL_MS;
  }

  private device(id: string): DeviceRun {
    return this.runs.get(id)!;
  }

  private meterOf(id: string): SiteMeter {
    const site = siteOf(this.scheduler.config, id);
    let meter = this.meters.get(site);
    if (!meter) this.meters.set(site, (meter = new SiteMeter(budgetOf(this.scheduler.config, site), this.o.blockBytes, this.maxDepth)));
    return meter;
  }

  private get maxDepth(): number {
    return this.o.maxDepthBytes ?? DEFAULT_MAX_DEPTH_BYTES;
  }

  /** The rollout is over and no device has anything left to do: stop ticking. */
  private quiet(): boolean {
    const final = this.scheduler.phase !== 'running' && this.scheduler.phase !== 'scheduled';
    return final && [...this.runs.values()].every((r) => r.phase === 'done' || r.phase === 'waiting');
  }

  private report(): SimReport {
    const { phase, stop } = this.scheduler.view;
    return buildReport({
      start: this.o.startAt,
      end: this.clock.now(),
      lastByteAt: this.devices.lastByteAt,
      lastOutcomeAt: this.devices.lastOutcomeAt,
      lowerBoundS: lowerBoundS(this.scheduler.config),
      phase,
      stop: stop?.cause ?? null,
      meters: this.meters,
      egress: this.egress,
      windowInterruptions: this.blocks.interruptions,
      ...this.counters,
      statuses: [...this.runs.values()].map((r) => r.status),
      events: this.events,
    });
  }
}
