/**
 * Seeded simulated fleets for tests and the bench: sites with uplinks spread geometrically between
 * two bounds, devices with log-uniform link speeds, and the ways real fleets mislead a scheduler:
 * devices that do not report their link, devices that overstate it, a share that fails, a share
 * that drops offline mid-download.
 */
import { seededRandom } from '../../rollouts/random.js';
import type { SiteSettings } from '../../rollouts/settings.js';
import type { SimDevice } from './sim-types.js';

export interface FleetSpec {
  devices: number;
  sites: number;
  seed: string;
  /** Site uplinks, bytes/s: the first site gets `min`, the last `max`, geometric in between. */
  uplink: { min: number; max: number };
  /** Device links, bytes/s, log-uniform. */
  link: { min: number; max: number };
  /** Devices per site follow the uplink (`proportional`) or are equal (`equal`). */
  spread?: 'equal' | 'proportional';
  /** Share that report no `linkKbps`. */
  unknownLinkShare?: number;
  /** Share that report twice their real link. */
  overstateShare?: number;
  /** Share whose install fails. */
  failShare?: number;
  /** Share that drop offline halfway through the download, for `offlineS`. */
  dropShare?: number;
  offlineS?: number;
}

export interface Fleet {
  sites: SiteSettings[];
  devices: SimDevice[];
}

const geometric = (min: number, max: number, i: number, n: number): number => (n <= 1 ? min : min * (max / min) ** (i / (n - 1)));

function siteCounts(spec: FleetSpec, sites: SiteSettings[]): number[] {
  const weights = sites.map((s) => (spec.spread === 'proportional' ? s.uplinkBytesPerSec : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.floor((w / total) * spec.devices));
  for (let i = 0; counts.reduce((a, b) => a + b, 0) < spec.devices; i++) counts[i % counts.length]! += 1;
  return counts;
}

function device(spec: FleetSpec, id: string, site: string, random: () => number): SimDevice {
  const linkBytesPerSec = Math.round(spec.link.min * (spec.link.max / spec.link.min) ** random());
  const d: SimDevice = { id, site, linkBytesPerSec };
  const report = random();
  const unknown = spec.unknownLinkShare ?? 0;
  if (report >= unknown) d.linkKbps = (linkBytesPerSec * 8) / 1000;
  if (report >= unknown && report < unknown + (spec.overstateShare ?? 0)) d.linkKbps = (2 * linkBytesPerSec * 8) / 1000;
  if (random() < (spec.failShare ?? 0)) d.outcome = 'FAILED';
  if (random() < (spec.dropShare ?? 0)) Object.assign(d, { dropAtShare: 0.5, offlineS: spec.offlineS ?? 30 });
  return d;
}

export function makeFleet(spec: FleetSpec): Fleet {
  const random = seededRandom(spec.seed);
  const sites = Array.from({ length: spec.sites }, (_, i) => ({
    id: `site-${String(i).padStart(2, '0')}`,
    uplinkBytesPerSec: Math.round(geometric(spec.uplink.min, spec.uplink.max, i, spec.sites)),
  }));
  const devices: SimDevice[] = [];
  siteCounts(spec, sites).forEach((count, s) => {
    for (let k = 0; k < count; k++) devices.push(device(spec, `dev-${s}-${k}`, sites[s]!.id, random));
  });
  return { sites, devices };
}
