/**
 * Which devices a job is for. Every selector given must match (`{ tags: ['beta'], deviceClass:
 * 'pump' }` is the beta pumps); a list matches any of its items. At least one selector is
 * required, so a job never reaches the whole fleet by omission (`query: {}` says so explicitly).
 *
 * One predicate, `matchesTargets`, decides for resolution at creation, for the continuous rescan,
 * and for a device that connects; the store is only asked to narrow the candidates.
 */
import type { DeviceStatus } from '../../device-sdk/protocol/schemas.js';
import type { DeviceListFilter, DeviceRecord } from '../store/types.js';
import type { Exclusion, FirmwareTarget, JobTargets } from './model.js';

export type TargetDevice = Pick<DeviceRecord, 'id' | 'deviceClass' | 'site' | 'tags'> & { status: DeviceStatus };

export const hasSelector = (t: JobTargets): boolean =>
  t.devices !== undefined || t.tags !== undefined || t.deviceClass !== undefined || t.sites !== undefined || t.query !== undefined;

const anyOf = <T>(list: readonly T[] | undefined, test: (item: T) => boolean): boolean => list === undefined || list.some(test);
const equals = <T>(want: T | undefined, got: T): boolean => want === undefined || want === got;

export function matchesTargets(d: TargetDevice, t: JobTargets): boolean {
  const q = t.query ?? {};
  return (
    hasSelector(t) &&
    anyOf(t.devices, (id) => id === d.id) &&
    anyOf(t.tags, (tag) => d.tags.includes(tag)) &&
    equals(t.deviceClass, d.deviceClass) &&
    anyOf(t.sites, (site) => site === d.site) &&
    (q.tag === undefined || d.tags.includes(q.tag)) &&
    equals(q.deviceClass, d.deviceClass) &&
    equals(q.site, d.site) &&
    equals(q.status, d.status)
  );
}

/** A store filter that returns a superset of the matching devices, as narrow as one indexed lookup allows. */
export function candidateFilter(t: JobTargets): Omit<DeviceListFilter, 'limit' | 'afterId'> {
  if (t.devices !== undefined) return { ids: t.devices };
  const deviceClass = t.deviceClass ?? t.query?.deviceClass;
  if (deviceClass !== undefined) return { deviceClass };
  if (t.query?.site !== undefined) return { site: t.query.site };
  if (t.sites?.length === 1) return { site: t.sites[0] };
  if (t.query?.tag !== undefined) return { tag: t.query.tag };
  if (t.tags?.length === 1) return { tag: t.tags[0] };
  return {};
}

/** A firmware job runs only on its firmware's device class; the others are reported, not skipped. */
export function splitCompatible(devices: readonly TargetDevice[], firmware: Pick<FirmwareTarget, 'deviceClass'> | null): { compatible: string[]; incompatible: Exclusion[] } {
  const compatible: string[] = [];
  const incompatible: Exclusion[] = [];
  for (const d of devices) {
    if (firmware === null || d.deviceClass === firmware.deviceClass) compatible.push(d.id);
    else incompatible.push({ deviceId: d.id, reason: 'incompatible', deviceClass: d.deviceClass });
  }
  return { compatible, incompatible };
}
