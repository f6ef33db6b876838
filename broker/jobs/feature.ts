/**
 * Jobs as a Baton feature: the SQLite repo, the service and its ticker, MQTT handlers and admin
 * routes, wired from the shared parts of the service (see broker/feature.ts).
 *
 * Config envelopes are signed with the broker's firmware signing key (`featureCtx.serverKey`, the
 * one the firmware feature trusts and rotates), so a device that trusts firmware manifests trusts
 * config jobs, before and after a rotation.
 *
 * The staged rollouts (broker/rollouts) are made before it (service.ts) and passed in: the
 * firmware feature's hooks share them. The jobs feature admits through them, binds them to its
 * service, and runs their start (it knows the active jobs) and close (after its ticker stopped).
 */
import type { PresenceEvent } from '../../device-sdk/protocol/schemas.js';
import type { FeatureFactory } from '../feature.js';
import { createSqliteFirmwareRepo } from '../store/sqlite/firmware.js';
import { createSqliteJobRepo } from '../store/sqlite/jobs.js';
import { configSigner } from './config-envelope.js';
import type { JobsContext } from './context.js';
import { createDeviceRequests } from './device-requests.js';
import { firmwareCatalog } from './firmware.js';
import { registerJobsInbound } from './mqtt.js';
import { createNotifier } from './notifier.js';
import { jobRoutes } from './routes.js';
import { createJobService } from './service.js';
import { followDevice } from './targeting.js';
import { admit, createTicker } from './ticker.js';
import type { Rollouts } from '../rollouts/rollouts.js';
import { rolloutActions, withRolloutRoutes } from '../rollouts/wiring.js';

/** Continuous jobs rescan the registry every this many ticks (10 s at the default tick). */
const RESCAN_EVERY_TICKS = 10;

export const jobsFeature = (rollouts: Rollouts): FeatureFactory => async (featureCtx) => {
  const { config, store, router, publisher, presence, metrics, clock, log: rootLog } = featureCtx;
  const log = rootLog.child({ component: 'jobs' });
  const repo = createSqliteJobRepo(store.db, store.writer);
  const signer = configSigner(featureCtx.serverKey, config.jobsConfigTtlS);
  const notifier = createNotifier({ repo, publisher, presence, signer, clock, log });
  const ctx: JobsContext = {
    repo, store, presence, notifier, signer, clock, log,
    admission: rollouts,
    rollouts,
    firmware: firmwareCatalog(createSqliteFirmwareRepo(store.db)),
  };
  registerJobsInbound(router, { requests: createDeviceRequests(ctx), publisher, clock, registry: metrics.registry, log });
  const ticker = createTicker(ctx, { rescanEvery: RESCAN_EVERY_TICKS });
  const onPresence = (e: PresenceEvent) => {
    if (e.event === 'disconnected') notifier.disconnected(e.deviceId);
  };
  presence.on('event', onPresence);
  let timer: NodeJS.Timeout | undefined;
  const service = createJobService(ctx);
  rollouts.bind(rolloutActions(ctx, service));

  return {
    name: 'jobs',
    routes: withRolloutRoutes(jobRoutes(service), rollouts, featureCtx, service, ctx),
    async onDeviceConnected(deviceId) {
      for (const job of await followDevice(ctx, deviceId, await repo.activeJobs())) await admit(ctx, job);
      await rollouts.deviceConnected(deviceId);
      await notifier.connected(deviceId);
    },
    async start() {
      rollouts.start(await repo.activeJobs());
      timer = setInterval(() => void ticker.tick(), config.jobsTickMs);
    },
    async close() {
      clearInterval(timer);
      presence.off('event', onPresence);
      await ticker.idle();
      await notifier.drain();
      await rollouts.close();
    },
  };
};
