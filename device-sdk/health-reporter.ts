/**
 * Periodic health reports on `devices/{id}/health`: one as soon as the link is up (so the
 * broker knows the interval and the device's state at once), then every `intervalS`.
 */
import type { Clock } from './clock.js';
import { composeHealthReport, createOsSampler, type HealthSample } from './health.js';
import type { HealthReport } from './protocol/schemas.js';

export interface HealthReporterDeps {
  intervalS: number;
  enabled: boolean;
  sample?: HealthSample;
  clock: Clock;
  publish(report: HealthReport): Promise<void>;
  onError(err: unknown): void;
  /** The default sample; `createOsSampler()` unless a test injects one. */
  osSample?: () => HealthReport;
}

export class HealthReporter {
  private timer: unknown;
  private readonly osSample: () => HealthReport;

  constructor(private readonly deps: HealthReporterDeps) {
    this.osSample = deps.osSample ?? createOsSampler();
  }

  /** Reports now and schedules the next ones; idempotent. */
  start(): void {
    this.stop();
    if (this.deps.enabled) this.tick();
  }

  stop(): void {
    if (this.timer === undefined) return;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Samples, validates and publishes one report; resolves with it once the broker stored it. */
  async report(): Promise<HealthReport> {
    const report = composeHealthReport(this.osSample(), this.deps.intervalS, await this.deps.sample?.());
    await this.deps.publish(report);
    return report;
  }

  private readonly tick = (): void => {
    this.timer = this.deps.clock.setTimeout(this.tick, this.deps.intervalS * 1000);
    this.report().catch((err: unknown) => {
      if (this.timer !== undefined) this.deps.onError(err); // not after stop(): the link is gone
    });
  };
}
