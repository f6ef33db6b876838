import type { createHealthIngest } from './health/ingest.js';
import type { InboundRouter } from './mqtt/inbound.js';
import type { PresenceTracker } from './presence/tracker.js';
import type { createTelemetryIngest } from './telemetry/ingest.js';

/** Device telemetry and health: stored (group-committed before the PUBACK), then forwarded to integrations. */
export function registerFoundationInbound(
  router: InboundRouter,
  deps: { telemetry: ReturnType<typeof createTelemetryIngest>; health: ReturnType<typeof createHealthIngest>; presence: PresenceTracker },
): void {
  router.on('telemetry', async ({ principal, topic, payload }) => {
    if (principal.kind !== 'device') return 'consume';
    await deps.telemetry.ingest(principal.deviceId, topic.params.stream, payload);
    return 'forward';
  });
  router.on('health', async ({ principal, payload }) => {
    if (principal.kind !== 'device') return 'consume';
    const report = await deps.health.ingest(principal.deviceId, payload);
    deps.presence.activity(principal.deviceId, report.intervalS);
    return 'forward';
  });
}
