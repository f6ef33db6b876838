/**
 * Device health reports (`devices/{id}/health`): validated, stored, and compared with the
 * device's previous report for reboots (boots.ts), which listeners hear about (the staged
 * rollouts count them against a wave's health gate).
 */
import { BatonError, healthReportSchema, issueFields, parseJsonObject, type HealthReport } from '../../device-sdk/protocol/index.js';
import type { Store } from '../store/types.js';
import { bootsBetween, type Boots, type ReceivedReport } from './boots.js';

export type BootsListener = (deviceId: string, boots: Boots) => void;

export function createHealthIngest(deps: { store: Store; maxBytes: number; clock: () => Date }) {
  const listeners = new Set<BootsListener>();
  /**
   * Reports not yet committed, by device: the next report of the device compares with these, not
   * with the store's older latest. Only in-flight reports are held, so memory stays bounded.
   */
  const inFlight = new Map<string, ReceivedReport>();

  async function stored(deviceId: string): Promise<ReceivedReport | undefined> {
    const latest = await deps.store.health.latest(deviceId);
    return latest && { report: latest.report, receivedAt: Date.parse(latest.receivedAt) };
  }

  return {
    /** Validates and stores a health report; returns it so presence can learn the interval. */
    async ingest(deviceId: string, payload: Buffer): Promise<HealthReport> {
      const parsed = healthReportSchema.safeParse(parseJsonObject(payload, deps.maxBytes));
      if (!parsed.success) {
        throw new BatonError('InvalidRequest', 'health report does not match its schema', { fields: issueFields(parsed.error) });
      }
      const at = deps.clock();
      const received: ReceivedReport = { report: parsed.data, receivedAt: at.getTime() };
      // Taken and replaced in one turn: two reports handled at once compare with each other.
      const pending = inFlight.get(deviceId);
      inFlight.set(deviceId, received);
      let previous: ReceivedReport | undefined;
      try {
        previous = pending ?? (await stored(deviceId));
        await deps.store.health.record(deviceId, parsed.data, at);
      } finally {
        if (inFlight.get(deviceId) === received) inFlight.delete(deviceId);
      }
      const boots = bootsBetween(previous, received);
      if (boots) for (const listener of listeners) listener(deviceId, boots);
      return parsed.data;
    },

    /** Calls `listener` for every report that shows the device rebooted; returns how to stop. */
    onBoots(listener: BootsListener): () => void {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

export type HealthIngest = ReturnType<typeof createHealthIngest>;
