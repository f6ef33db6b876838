/**
 * Serialising a change once. An update's document appears four times: in the store row, in the
 * history row, in `update/documents` and in the fleet event. Its JSON text is computed once per
 * snapshot object and reused (memoised by identity: the core never mutates what it returns), and
 * the two messages are assembled around it. For an 8 KiB document that is most of the CPU an
 * update costs.
 */
import type { ShadowDocuments, ShadowFleetEvent, ShadowSnapshot } from '../../device-sdk/protocol/shadow.js';

const memo = new WeakMap<ShadowSnapshot, string>();

/** `JSON.stringify(snapshot)`, computed once per snapshot object. */
export function snapshotJson(snapshot: ShadowSnapshot | null): string {
  if (snapshot === null) return 'null';
  let json = memo.get(snapshot);
  if (json === undefined) {
    json = JSON.stringify(snapshot);
    memo.set(snapshot, json);
  }
  return json;
}

const optional = (name: string, value: string | undefined) => (value === undefined ? '' : `,"${name}":${JSON.stringify(value)}`);

/** The `update/documents` payload: equal, once parsed, to `JSON.stringify(documents)`. */
export const documentsJson = (d: ShadowDocuments): string =>
  `{"previous":${snapshotJson(d.previous)},"current":${snapshotJson(d.current)},"timestamp":${d.timestamp}${optional('clientToken', d.clientToken)}}`;

/** The `fleet/events/shadow/{deviceId}` payload: equal, once parsed, to `JSON.stringify(event)`. */
export const fleetEventJson = (e: ShadowFleetEvent): string =>
  `{"deviceId":${JSON.stringify(e.deviceId)},"shadowName":${JSON.stringify(e.shadowName)},` +
  `"previous":${snapshotJson(e.previous)},"current":${snapshotJson(e.current)},"timestamp":${e.timestamp}}`;
