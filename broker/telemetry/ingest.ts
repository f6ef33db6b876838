import { parseJsonObject } from '../../device-sdk/protocol/index.js';
import type { Store } from '../store/types.js';

/**
 * Telemetry: a JSON object per message, stored with the server's receive time. The returned
 * promise resolves after the group commit, so the MQTT layer can PUBACK a durable message.
 */
export function createTelemetryIngest(deps: { store: Store; maxBytes: number; clock: () => Date }) {
  return {
    ingest(deviceId: string, stream: string | undefined, payload: Buffer): Promise<void> {
      // Validated here; the device's own text is stored as it came (re-serialising cost 5 % of
      // the broker's busy time in bench/run.ts).
      parseJsonObject(payload, deps.maxBytes);
      return deps.store.telemetry.append(deviceId, stream ?? null, payload.toString(), deps.clock());
    },
  };
}
