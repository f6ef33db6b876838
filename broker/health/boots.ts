/**
 * Reboots read from a device's health reports, compared with its previous report
 * (docs/protocol/README.md, "Health"):
 *
 * - `bootCount` in both reports: it rose by n → n boots (at most `MAX_BOOTS_PER_REPORT`); it fell
 *   → 1 (the counter was reset, e.g. the device's storage was wiped);
 * - otherwise `uptimeS` in both, lower than before → 1 boot (uptime alone sees at most one boot
 *   between two reports, and none when the new uptime has grown past the old one: a device in a
 *   crash loop should report `bootCount`).
 *
 * The boots are dated at the latest one, `receivedAt − uptimeS − BOOT_DATING_SLACK_MS`: the uptime
 * is rounded down and the report spent time in flight, so without the slack a boot would be dated
 * late, and the boot that installed an update could land after the update's success (the
 * health gate counts only boots after its soak began).
 */
import type { HealthReport } from '../../device-sdk/protocol/schemas.js';

/** A counter that jumped (garbage, or a long time offline) must not count millions of reboots one by one. */
export const MAX_BOOTS_PER_REPORT = 16;
export const BOOT_DATING_SLACK_MS = 2_000;

export interface ReceivedReport {
  report: Pick<HealthReport, 'bootCount' | 'uptimeS'>;
  /** Epoch ms. */
  receivedAt: number;
}

export interface Boots {
  count: number;
  /** When the latest of them happened (epoch ms), as far as the report tells. */
  at: number;
}

function bootCountDelta(previous: number | undefined, next: number | undefined): number | undefined {
  if (previous === undefined || next === undefined) return undefined;
  if (next < previous) return 1;
  return Math.min(next - previous, MAX_BOOTS_PER_REPORT);
}

/** The boots between two reports of one device; undefined when it did not reboot (or there is nothing to compare with). */
export function bootsBetween(previous: ReceivedReport | undefined, next: ReceivedReport): Boots | undefined {
  if (!previous) return undefined;
  const before = previous.report;
  const now = next.report;
  const byUptime = before.uptimeS !== undefined && now.uptimeS !== undefined && now.uptimeS < before.uptimeS ? 1 : 0;
  const count = bootCountDelta(before.bootCount, now.bootCount) ?? byUptime;
  if (count === 0) return undefined;
  return { count, at: next.receivedAt - (now.uptimeS ?? 0) * 1000 - BOOT_DATING_SLACK_MS };
}
