import { parseJsonObject } from '../../device-sdk/protocol/index.js';
import type { Store } from '../store/types.js';

/**
 * Telemetry: a JSON object per message, stored with the server's receive time. The returned
 * promise resolves after the group commit, so the MQTT layer can PUBACK a durable message.
 */
export function createTelemetryIngest(deps: { store: Store; maxBytes: number; clock: () => Date }) {
  return {
    async ingest(deviceId: string, stream: string | undefined, payload: Buffer): Promise<void> {
      const data = parseJsonObject(payload, deps.maxBytes);
      await deps.store.telemetry.append(deviceId, stream ?? null, JSON.stringify(data), deps.clock());
    },
  };
}
