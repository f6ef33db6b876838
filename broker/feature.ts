/**
 * The seam every feature (shadows, certificates, firmware, jobs, rollouts) plugs into: it gets
 * the shared parts of the service, registers its MQTT handlers on the router, and may add admin
 * API routes and react to device connects. service.ts lists the features; nothing else changes
 * when one is added.
 */
import type { Logger } from 'pino';
import type { TokenService } from './auth/tokens.js';
import type { Config } from './config.js';
import type { DeviceRegistry } from './devices/registry.js';
import type { ApiPlugin } from './http/app.js';
import type { Metrics } from './metrics.js';
import type { InboundRouter } from './mqtt/inbound.js';
import type { Publisher } from './mqtt/publisher.js';
import type { PresenceTracker } from './presence/tracker.js';
import type { SqliteStore } from './store/sqlite/index.js';
import type { ServerSigningKey } from '../firmware-updates/signing-keys.js';

export interface FeatureContext {
  config: Config;
  store: SqliteStore;
  registry: DeviceRegistry;
  tokens: TokenService;
  presence: PresenceTracker;
  router: InboundRouter;
  publisher: Publisher;
  metrics: Metrics;
  log: Logger;
  clock: () => number;
  /** The broker's own signing key (firmware manifests, config envelopes), which the firmware feature rotates. */
  serverKey: ServerSigningKey;
}

export interface Feature {
  readonly name: string;
  /** Admin API routes, mounted under /api/v1 with the shared auth guard in `ctx.guard`. */
  routes?: ApiPlugin;
  /** Called after a device's CONNACK (e.g. to send it pending work). */
  onDeviceConnected?(deviceId: string): void | Promise<void>;
  /** Timers started here must be stopped in close(). */
  start?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

export type FeatureFactory = (ctx: FeatureContext) => Feature | Promise<Feature>;
