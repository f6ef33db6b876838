import { BatonError, healthReportSchema, issueFields, parseJsonObject, type HealthReport } from '../../device-sdk/protocol/index.js';
import type { Store } from '../store/types.js';

export function createHealthIngest(deps: { store: Store; maxBytes: number; clock: () => Date }) {
  return {
    /** Validates and stores a health report; returns it so presence can learn the interval. */
    async ingest(deviceId: string, payload: Buffer): Promise<HealthReport> {
      const parsed = healthReportSchema.safeParse(parseJsonObject(payload, deps.maxBytes));
      if (!parsed.success) {
        throw new BatonError('InvalidRequest', 'health report does not match its schema', { fields: issueFields(parsed.error) });
      }
      await deps.store.health.record(deviceId, parsed.data, deps.clock());
      return parsed.data;
    },
  };
}
