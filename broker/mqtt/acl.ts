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

/** Baton's own namespaces, where the broker validates, stores and routes every message. */
const isBatonTopic = (topic: string): boolean => reservedRoots.includes(topic.split('/', 1)[0]!);
/** aedes' broker-internal topics (client ids, subscriptions): never shown to clients. */
const isBrokerInternal = (topic: string): boolean => topic.startsWith('$SYS');

/**
 * Whether a retained PUBLISH on this topic is kept. Under Baton's namespaces the store holds the
 * history (`GET …/telemetry`, shadows), so the retain flag is ignored there.
 */
export const keepsRetained = (topic: string): boolean => !isBatonTopic(topic);

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
      // `$` topics other than $SYS are accepted (as Mosquitto does) and reach only subscribers
      // whose filter does not start with a wildcard [MQTT-4.7.2-1].
      return !isBatonTopic(topic) && !isBrokerInternal(topic);
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
      // A filter that can match only Baton's namespaces or $SYS is refused; `#` stays granted,
      // and `canReceive` filters what it delivers.
      return !isBatonTopic(filter) && !isBrokerInternal(filter);
  }
}

/**
 * Delivery-time check (live deliveries and persistent-session queues alike), the same table as
 * `canSubscribe`: a device receives only what the broker sends devices, under its own id, so its
 * own telemetry never comes back to it whatever its wildcard.
 */
export function canReceive(principal: Principal, topic: string): boolean {
  switch (principal.kind) {
    case 'device': {
      const parsed = parseTopic(topic);
      return parsed?.direction === 'down' && parsed.params.deviceId === principal.deviceId;
    }
    case 'integration':
      return integrationFilters.some((allowed) => filterMatches(allowed, topic));
    case 'claim':
      return topic.startsWith(`provisioning/${principal.serial}/register/`);
    case 'anonymous':
      return !isBatonTopic(topic) && !isBrokerInternal(topic);
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
