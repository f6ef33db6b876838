/**
 * Device shadows as a Baton feature: the SQLite repo, the service, its MQTT handlers and its
 * admin API routes, wired from the shared parts of the service (see broker/feature.ts).
 */
import type { FeatureFactory } from '../feature.js';
import { createSqliteShadowRepo } from '../store/sqlite/shadows.js';
import { resolveShadowLimits } from './limits.js';
import { registerShadowInbound } from './mqtt.js';
import { shadowRoutes } from './routes.js';
import { createShadowService } from './service.js';

export const shadowsFeature: FeatureFactory = ({ config, store, router, publisher, metrics, log, clock }) => {
  const limits = resolveShadowLimits({ maxStateBytes: config.shadowMaxStateBytes, maxDepth: config.shadowMaxDepth });
  const historyVersions = config.shadowHistory;
  const repo = createSqliteShadowRepo(store.db, store.writer, { historyVersions });
  const shadowLog = log.child({ component: 'shadows' });
  const shadows = createShadowService({ repo, publisher, limits, clock, log: shadowLog });
  registerShadowInbound(router, { shadows, publisher, limits, clock, registry: metrics.registry, log: shadowLog });
  return { name: 'shadows', routes: shadowRoutes({ shadows, limits, historyVersions }) };
};
