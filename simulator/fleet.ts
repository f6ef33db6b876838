/**
 * A simulated fleet: planned from a seed (sites, link speeds, clock offsets, failure modes),
 * registered through the admin API, and run as `SimulatedDevice`s in this process, each with its
 * own MQTT connection.
 */
import { seededRandom, shuffle } from '../rollouts/random.js';
import type { AdminApi } from './api.js';
import { FAILURE_MODES, SimulatedDevice, type FailureMode, type SimDeviceSpec, type SimEnvironment } from './device.js';

export interface SiteSpec {
  id: string;
  uplinkBytesPerSec: number;
  timeZone?: string | undefined;
}

export interface FleetSpec {
  devices: number;
  /** Device ids are `{prefix}-{n}`. */
  prefix: string;
  /** Set on every device, so a job can target the fleet with `{ tags: [tag] }`. */
  tag: string;
  deviceClass: string;
  sites: SiteSpec[];
  /** Each device's link, uniform in [min, max] kbit/s. */
  linkKbps: { min: number; max: number };
  /** Each device's clock is off by up to ± this. */
  clockSkewS: number;
  /** Share of the fleet (0–1) in each failure mode; the rest update cleanly. */
  failures: Partial<Record<Exclude<FailureMode, 'none'>, number>>;
  seed: string;
}

export type PlannedDevice = Omit<SimDeviceSpec, 'secret'>;

/** The fleet's devices, deterministic for a seed: sites round-robin, links and clocks drawn, failures dealt out. */
export function planFleet(spec: FleetSpec): PlannedDevice[] {
  const random = seededRandom(spec.seed);
  const width = String(Math.max(spec.devices - 1, 0)).length;
  const devices: PlannedDevice[] = Array.from({ length: spec.devices }, (_, i) => ({
    id: `${spec.prefix}-${String(i).padStart(width, '0')}`,
    site: spec.sites.length > 0 ? spec.sites[i % spec.sites.length]!.id : null,
    linkKbps: Math.round(spec.linkKbps.min + random() * (spec.linkKbps.max - spec.linkKbps.min)),
    clockOffsetMs: Math.round((random() * 2 - 1) * spec.clockSkewS * 1000),
    failure: 'none',
  }));
  const order = shuffle(devices.map((_, i) => i), random);
  let next = 0;
  for (const mode of FAILURE_MODES) {
    if (mode === 'none') continue;
    const count = Math.round((spec.failures[mode] ?? 0) * spec.devices);
    for (let k = 0; k < count && next < order.length; k++) devices[order[next++]!]!.failure = mode;
  }
  return devices;
}

/** Runs `work` over `items`, `concurrency` at a time. */
export async function pool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Creates the sites (or updates their uplink) and the devices (or takes them over with a new secret). */
export async function provisionFleet(api: AdminApi, spec: FleetSpec, planned: readonly PlannedDevice[], concurrency = 16): Promise<SimDeviceSpec[]> {
  for (const site of spec.sites) {
    const body = { uplinkBytesPerSec: Math.round(site.uplinkBytesPerSec), ...(site.timeZone ? { timeZone: site.timeZone } : {}) };
    const created = await api.call('POST', '/api/v1/sites', { id: site.id, ...body });
    if (created.status === 409) await api.must('PATCH', `/api/v1/sites/${site.id}`, body);
    else if (created.status !== 201) throw new Error(`create site ${site.id}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  return pool(planned, concurrency, async (d) => {
    const fields = { deviceClass: spec.deviceClass, tags: [spec.tag], ...(d.site ? { site: d.site } : {}) };
    const created = await api.call('POST', '/api/v1/devices', { id: d.id, ...fields });
    if (created.status === 201) return { ...d, secret: created.body.secret as string };
    if (created.status !== 409) throw new Error(`create device ${d.id}: ${created.status} ${JSON.stringify(created.body)}`);
    await api.must('PATCH', `/api/v1/devices/${d.id}`, { ...fields, site: d.site });
    const { secret } = await api.must<{ secret: string }>('POST', `/api/v1/devices/${d.id}/secret`);
    return { ...d, secret };
  });
}

/** Per-site byte counters the devices feed, read as a rate by the progress line and the report. */
export class SiteMeter {
  readonly total = new Map<string, number>();
  private readonly window = new Map<string, number>();
  private windowStart = Date.now();
  private last = new Map<string, number>();

  add(site: string | null, bytes: number): void {
    const key = site ?? '(no site)';
    this.total.set(key, (this.total.get(key) ?? 0) + bytes);
    this.window.set(key, (this.window.get(key) ?? 0) + bytes);
  }

  /** Bytes/s per site since the previous call. */
  rates(): Map<string, number> {
    const now = Date.now();
    const seconds = Math.max((now - this.windowStart) / 1000, 0.001);
    this.last = new Map([...this.window].map(([k, v]) => [k, v / seconds]));
    this.window.clear();
    this.windowStart = now;
    return this.last;
  }
}

export class Fleet {
  readonly devices: SimulatedDevice[];
  readonly meter = new SiteMeter();
  readonly errors: { deviceId: string; message: string }[] = [];

  constructor(specs: readonly SimDeviceSpec[], env: Omit<SimEnvironment, 'onError'>) {
    this.devices = specs.map((s) => new SimulatedDevice(s, {
      ...env,
      onBytes: (site, bytes) => {
        this.meter.add(site, bytes);
        env.onBytes?.(site, bytes);
      },
      onError: (device, err) => {
        if (this.errors.length < 1000) this.errors.push({ deviceId: device.spec.id, message: err instanceof Error ? err.message : String(err) });
      },
    }));
  }

  /** Connects every device, `concurrency` connects in flight at once. */
  async start(concurrency = 50): Promise<void> {
    await pool(this.devices, concurrency, (d) => d.start());
  }

  async stop(): Promise<void> {
    await pool(this.devices, 200, (d) => d.stop().catch(() => undefined));
  }

  /** Devices per state. */
  states(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const d of this.devices) counts[d.state] = (counts[d.state] ?? 0) + 1;
    return counts;
  }
}
