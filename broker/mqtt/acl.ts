/**
 * The topic ACL, as pure functions of (principal, topic). The directions come from the protocol's
 * topic table, so a device can publish only what the protocol lets devices send, under its own
 * id, and never a reply topic such as `…/accepted`.
 */
import {
  filterMatches,
  integrationFilters,
  parseTopic,
  reservedRoots,
  shapesAsFilters,
  filtersIntersect,
  topics,
} from '../../device-sdk/protocol/index.js';
import type { Principal } from './principal.js';

const deviceReceivable = shapesAsFilters('down').filter((levels) => levels[0] === 'devices');

const isReserved = (topic: string): boolean =>
  topic.startsWith('$') || reservedRoots.includes(topic.split('/')[0]!);

export function canPublish(principal: Principal, topic: string): boolean {
  switch (principal.kind) {
    case 'device': {
      const parsed = parseTopic(topic);
      return parsed?.direction === 'up' && parsed.params.deviceId === principal.deviceId;
    }
    case 'claim': {
      const parsed = parseTopic(topic);
      return parsed?.kind === 'provisioning/register' && parsed.params.serial === principal.serial;
    }
    case 'integration':
      return false;
    case 'anonymous':
      return !isReserved(topic);
  }
}

/**
 * SUBSCRIBE: a device's filter must name its own id literally at the second level (so no
 * wildcard reaches another device) and be able to match something the broker sends it.
 * Integrations and claims may only narrow their allowed filters. Anonymous clients are granted
 * anything; `canReceive` keeps the reserved namespaces from them at delivery.
 */
export function canSubscribe(principal: Principal, filter: string): boolean {
  switch (principal.kind) {
    case 'device': {
      const levels = filter.split('/');
      if (levels[0] !== 'devices' || levels[1] !== principal.deviceId) return false;
      return deviceReceivable.some((shape) =>
        filtersIntersect(filter, ['devices', principal.deviceId, ...shape.slice(2)].join('/')),
      );
    }
    case 'integration':
      return integrationFilters.some((allowed) => filterCovers(allowed, filter));
    case 'claim':
      return filterCovers(topics.provisioning(principal.serial, 'register/#'), filter);
    case 'anonymous':
      return true;
  }
}

/** Delivery-time check, the last line of defence behind `canSubscribe`. */
export function canReceive(principal: Principal, topic: string): boolean {
  switch (principal.kind) {
    case 'device':
      return topic.startsWith(`devices/${principal.deviceId}/`);
    case 'integration':
      return integrationFilters.some((allowed) => filterMatches(allowed, topic));
    case 'claim':
      return topic.startsWith(`provisioning/${principal.serial}/register/`);
    case 'anonymous':
      return !isReserved(topic);
  }
}

/** Is every topic that `filter` matches also matched by `allowed`? */
export function filterCovers(allowed: string, filter: string): boolean {
  const a = allowed.split('/');
  const f = filter.split('/');
  for (let i = 0; i < f.length; i++) {
    const want = a[i];
    if (want === '#') return true;
    if (want === undefined) return false;
    const got = f[i]!;
    if (got === '#') return false;
    if (want !== '+' && got !== want) return false;
  }
  // `a/#` also matches `a` [MQTT-4.7.1-2]; otherwise both must end together.
  return a.length === f.length || (a.length === f.length + 1 && a[f.length] === '#');
}
