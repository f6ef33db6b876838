import { BatonError, FREE_FORM_MAX_DEPTH, jsonDepth, parseJsonObject } from '../../device-sdk/protocol/index.js';
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
      // Depth too: the admin API serves it back (JSON.stringify recurses; 64 KiB of `[` is 32 000 levels).
      if (jsonDepth(parseJsonObject(payload, deps.maxBytes)) > FREE_FORM_MAX_DEPTH) {
        throw new BatonError('TooDeep', `telemetry may nest at most ${FREE_FORM_MAX_DEPTH} levels`);
      }
      return deps.store.telemetry.append(deviceId, stream ?? null, payload.toString(), deps.clock());
    },
  };
}
