/**
 * One simulated device, built on the real device SDK: `connect()` for its own MQTT connection,
 * `client.jobs.handle('firmware', …)` with `ctx.download()` for the signed, block-verified
 * download, and the SDK's reboot and reconcile flow for the install. Nothing of the protocol is
 * faked; what is simulated is the hardware around it:
 *
 * - its link: it reports `linkKbps` in its health, and the broker's per-device pacing bucket holds
 *   its blocks to that rate (the rollout scheduler also plans with it);
 * - its clock: `clockOffsetMs` skews the wall clock the SDK checks envelopes and manifests with;
 * - its install and reboot: `installMs`, then a reboot (`rebootMs` offline) into the new version;
 * - its failure mode, one of:
 *     `install-fails`  the download verifies, then flashing fails: FAILED (`InternalError`)
 *     `drop-offline`   the link drops once half the image arrived, for `offlineMs`, then the
 *                      download resumes where it stopped
 *     `reboot-old`     it reboots into the old version: reconcile reports FAILED (`RebootedIntoOldVersion`)
 *     `stale`          the update succeeds, then the device goes silent (presence marks it stale)
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type DeviceClient } from '../device-sdk/index.js';
import type { TrustedKey } from '../device-sdk/firmware/manifest.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { parseTopic } from '../device-sdk/protocol/topics.js';

export const FAILURE_MODES = ['none', 'install-fails', 'drop-offline', 'reboot-old', 'stale'] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export interface SimDeviceSpec {
  id: string;
  secret: string;
  site: string | null;
  /** The link speed it reports (and is paced at), kbit/s. */
  linkKbps: number;
  clockOffsetMs: number;
  failure: FailureMode;
}

export interface SimEnvironment {
  mqttUrl: string;
  trustedKeys: readonly TrustedKey[];
  deviceClass: string;
  /** The version every device runs at start. */
  version: string;
  /** Each device keeps its state files and its image slot under `{dir}/{id}/`. */
  dir: string;
  installMs: number;
  rebootMs: number;
  offlineMs: number;
  /** Health interval; a `stale` device declares this, then goes silent (stale after 3 × this). */
  healthIntervalS: number;
  /** Firmware bytes that reached the device (blocks and chunk tables), per site. */
  onBytes?(site: string | null, bytes: number): void;
  onStateChange?(device: SimulatedDevice, from: DeviceState, to: DeviceState): void;
  onError?(device: SimulatedDevice, err: unknown): void;
}

export type DeviceState = 'starting' | 'idle' | 'downloading' | 'installing' | 'rebooting' | 'offline' | 'updated' | 'failed' | 'stale';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

export class SimulatedDevice {
  state: DeviceState = 'starting';
  /** The version it runs now. */
  running: string;
  /** Firmware bytes received over all its connections. */
  bytes = 0;
  private client: DeviceClient | undefined;
  private dropped = false;
  private stopped = false;
  private expectedBytes = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: SimDeviceSpec,
    private readonly env: SimEnvironment,
  ) {
    this.running = env.version;
  }

  private get dir(): string {
    return join(this.env.dir, this.spec.id);
  }

  /** Connects (resolves once connected) and starts taking firmware jobs. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.boot(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.pending.catch(() => undefined);
    await this.client?.close();
    this.client = undefined;
  }

  private setState(to: DeviceState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.env.onStateChange?.(this, from, to);
  }

  private now = () => Date.now() + this.spec.clockOffsetMs;

  /** One "power-on": a new SDK client, its jobs loop, and the firmware handler. */
  private async boot(silent: boolean): Promise<void> {
    const { spec, env } = this;
    const client = await connect({
      url: env.mqttUrl,
      deviceId: spec.id,
      secret: spec.secret,
      keepaliveS: 30,
      reconnect: { minMs: 200, maxMs: 2000 },
      connectTimeoutMs: 20_000,
      requestTimeoutMs: 20_000,
      health: {
        intervalS: env.healthIntervalS,
        enabled: !silent,
        sample: () => ({ linkKbps: spec.linkKbps, firmwareVersion: this.running }),
      },
      jobs: {
        trustedKeys: env.trustedKeys,
        firmwareVersion: () => this.running,
        stateFile: join(this.dir, 'jobs-state.json'),
        firmware: {
          deviceClass: env.deviceClass,
          freeBytes: 1 << 30,
          statePath: join(this.dir, 'firmware-state.json'),
          dir: join(this.dir, 'slot'),
          // Sync rarely (the download still syncs once at its end): thousands of devices share one disk here.
          syncIntervalMs: 10_000,
          wallClock: this.now,
        },
        now: this.now,
        reboot: () => this.reboot(),
        onError: (err) => env.onError?.(this, err),
      },
    });
    this.client = client;
    client.mqtt.on('message', (topic, payload) => this.onMessage(topic, payload));
    if (silent) {
      // Reconciles (the SDK's jobs loop reports the install it rebooted for), declares its
      // interval once, then never speaks again: stale after 3 × the interval.
      void client.jobs;
      await client.reportHealth().catch(() => undefined);
      this.setState('stale');
      return;
    }
    client.jobs.handle('firmware', async (ctx) => {
      const doc = ctx.job.document;
      // Already running it (the SDK may hand back the execution a reboot interrupted while its
      // reconcile is settling it): nothing to do.
      if (doc.type === 'firmware' && doc.version === this.running) return;
      this.expectedBytes = doc.type === 'firmware' ? doc.size : 0;
      this.setState('downloading');
      await ctx.download();
      this.setState('installing');
      await sleep(env.installMs);
      if (spec.failure === 'install-fails') {
        this.setState('failed');
        throw new BatonError('InternalError', 'simulated flash write failure');
      }
      this.target = doc.type === 'firmware' ? doc.version : this.running;
      return { reboot: true };
    });
    if (this.state === 'starting' || this.state === 'offline' || this.state === 'rebooting') {
      this.setState(this.state === 'rebooting' && this.running === this.target ? 'updated' : this.state === 'rebooting' ? 'failed' : 'idle');
    }
  }

  /** The version the last install was for. */
  private target: string | undefined;

  /** Counts firmware bytes as they arrive; a `drop-offline` device drops its link half-way, once. */
  private onMessage(topic: string, payload: Buffer): void {
    const kind = parseTopic(topic)?.kind;
    if (kind !== 'stream/data' && kind !== 'stream/chunk-table') return;
    this.bytes += payload.length;
    this.env.onBytes?.(this.spec.site, payload.length);
    if (this.spec.failure === 'drop-offline' && !this.dropped && this.expectedBytes > 0 && this.bytes >= this.expectedBytes / 2) {
      this.dropped = true;
      this.pending = this.goOffline();
    }
  }

  private async goOffline(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.setState('offline');
    await client?.close();
    await sleep(this.env.offlineMs);
    if (!this.stopped) await this.boot(false);
  }

  /** Called by the SDK once the reboot is on disk and reported: power-cycle, outside the jobs loop. */
  private reboot(): void {
    this.setState('rebooting');
    this.pending = (async () => {
      const client = this.client;
      this.client = undefined;
      await sleep(0);
      await client?.close();
      await sleep(this.env.rebootMs);
      if (this.stopped) return;
      // The new image boots, unless this device falls back to the old one.
      if (this.spec.failure !== 'reboot-old' && this.target) this.running = this.target;
      await this.boot(this.spec.failure === 'stale' && this.running === this.target);
    })().catch((err: unknown) => this.env.onError?.(this, err));
  }
}
