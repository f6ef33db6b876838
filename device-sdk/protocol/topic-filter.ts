/** MQTT topic-filter matching [MQTT-4.7], used by the ACL and by delivery-time QoS capping. */

/** Does `filter` (may contain `+` and `#`) match the concrete `topic`? */
export function filterMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with `$`.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  return levelsIntersect(filter.split('/'), topic.split('/'));
}

/**
 * Could some concrete topic match both filters? With a concrete topic on one side this is plain
 * matching. Used to decide whether a device's wildcard subscription could ever reach a topic it
 * must not see.
 */
export function filtersIntersect(a: string, b: string): boolean {
  return levelsIntersect(a.split('/'), b.split('/'));
}

function levelsIntersect(a: string[], b: string[]): boolean {
  const x = a[0];
  const y = b[0];
  if (x === '#' || y === '#') return true;
  if (x === undefined || y === undefined) return x === y;
  if (x !== '+' && y !== '+' && x !== y) return false;
  return levelsIntersect(a.slice(1), b.slice(1));
}
