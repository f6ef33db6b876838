/**
 * `buildService(config)` assembles the whole Baton service from a validated config: store,
 * services, the MQTT broker and its listeners, and the admin API. It has no side effects at
 * import and does not listen until `listen()`; only main.ts reads the environment and handles
 * signals. Tests build the same service on port 0.
 */
import type { Logger } from 'pino';
import { topics } from '../device-sdk/protocol/index.js';
import { SecretHasher } from './auth/secrets.js';
import { createTokenService } from './auth/tokens.js';
import { openPki } from './certs/pki.js';
import { setUpCertificates } from './certs/setup.js';
import type { Config } from './config.js';
import { createDeviceRegistry } from './devices/registry.js';
import { registerFoundationInbound } from './foundation-inbound.js';
import { createHealthIngest } from './health/ingest.js';
import { createAuthGuard } from './http/auth.js';
import { buildHttpApp } from './http/app.js';
import { applyServerTimeouts, defaultHttpTimeouts, type HttpTimeouts } from './http/timeouts.js';
import type { ApiContext } from './http/context.js';
import { createLogger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createAuthenticator, type Authenticator } from './mqtt/authenticate.js';
import { createMqttBroker } from './mqtt/broker.js';
import { SqliteSessionStore } from './sessions/sqlite-session-store.js';
import { sessionLimits } from './sessions/limits.js';
import { InboundRouter } from './mqtt/inbound.js';
import { httpsListener, tcpListener, tlsListener, webSocketListener, type Listener } from './mqtt/listeners.js';
import { PresenceTracker } from './presence/tracker.js';
import { shadowsFeature } from './shadows/feature.js';
import { firmwareFeature } from './firmware/feature.js';
import { jobsFeature } from './jobs/feature.js';
import { jobsFirmwareHooks } from './jobs/firmware.js';
import type { Rollouts } from './rollouts/rollouts.js';
import { createRollouts } from './rollouts/wiring.js';
import { openSqliteStore } from './store/sqlite/index.js';
import { createTelemetryIngest } from './telemetry/ingest.js';
import { openServerSigningKey } from '../firmware-updates/signing-keys.js';
import type { Feature, FeatureContext, FeatureFactory } from './feature.js';

export interface ServiceOptions {
  /** Injected for tests; defaults to the system clock. */
  clock?: () => number;
  logger?: Logger;
  /** HTTP timeouts (broker/http/timeouts.ts); tests shorten them. */
  httpTimeouts?: Partial<HttpTimeouts>;
  /** Injected for tests: wraps the MQTT authenticator (e.g. to hold an authentication back). */
  wrapAuthenticator?: (authenticate: Authenticator) => Authenticator;
}

export interface ListenPorts {
  mqttPort: number;
  httpPort: number;
  /** MQTT over TLS (mutual TLS for devices with certificates). */
  mqttsPort: number;
  /** Admin API and MQTT over secure WebSocket, when BATON_HTTPS_PORT is set. */
  httpsPort?: number;
}

export interface BatonService {
  config: Config;
  log: Logger;
  store: ReturnType<typeof openSqliteStore>;
  /** Its metrics (the entry point counts unhandled rejections in them). */
  metrics: Metrics;
  /** The staged rollouts (benchmarks watch the firmware bytes they are told of). */
  rollouts: Rollouts;
  /** The generated first admin token, on first start only (unless BATON_ADMIN_TOKEN set it). */
  firstAdminToken: string | undefined;
  listen(): Promise<ListenPorts>;
  /** The bound ports, once listening (0 before). */
  ports(): ListenPorts;
  ready(): boolean;
  close(): Promise<void>;
}

export async function buildService(config: Config, options: ServiceOptions = {}): Promise<BatonService> {
  const clock = options.clock ?? Date.now;
  const now = () => new Date(clock());
  const log = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  // The CA and TLS server certificate (created in {dataDir}/ca on first start): before the store,
  // so a CA that cannot be opened stops start-up with nothing to close.
  const pki = await openPki(config, now);
  const store = openSqliteStore({
    dataDir: config.dataDir,
    healthHistoryLimit: config.healthHistory,
    onCommit: ({ size, commitMs }) => {
      metrics.storeBatchSize.observe(size);
      metrics.storeCommitSeconds.observe(commitMs / 1000);
    },
  });
  const hasher = SecretHasher.forDataDir(config.dataDir);
  const certificates = setUpCertificates(config, pki, { db: store.db, hasher });
  const presence = new PresenceTracker({ clock, defaultIntervalS: config.defaultHealthIntervalS });
  const registry = createDeviceRegistry({ store, hasher, presence, clock: now });
  const tokens = createTokenService({ repo: store.tokens, hasher, clock: now });
  const firstAdminToken = await tokens.ensureFirstAdmin(config.adminToken);

  const router = new InboundRouter();
  const health = createHealthIngest({ store, maxBytes: config.telemetryMaxBytes, clock: now });
  registerFoundationInbound(router, {
    telemetry: createTelemetryIngest({ store, maxBytes: config.telemetryMaxBytes, clock: now }),
    health,
    presence,
  });

  const authenticate = createAuthenticator({
    registry, tokens, allowAnonymous: config.allowAnonymous, passwordAuth: certificates.passwordAuth, credentials: certificates.credentials,
  });
  const broker = await createMqttBroker({
    authenticate: options.wrapAuthenticator ? options.wrapAuthenticator(authenticate) : authenticate,
    router,
    presence,
    metrics,
    log: log.child({ component: 'mqtt' }),
    clock,
    onPresence: (deviceId, info, event, reason) => {
      const at = now();
      store.connections.record({ deviceId, event, at, remoteAddress: info.remoteAddress, transport: info.transport, reason }).catch((err: unknown) => log.error({ err }, 'connection log write failed'));
      store.devices.recordSeen(deviceId, at, event === 'connected').catch((err: unknown) => log.error({ err }, 'last-seen write failed'));
    },
    sessions: (hooks) => new SqliteSessionStore({ db: store.db, writer: store.writer, limits: sessionLimits(config), hooks, clock }),
    maxSubscriptions: config.mqttMaxSubscriptions,
    maxPacketBytes: config.mqttMaxPacketBytes,
    connectLimits: { connectsPerSec: config.mqttMaxConnectsPerSec, maxWaitMs: config.mqttConnectWaitMs, pendingPerAddress: config.mqttMaxPendingConnectsPerAddress },
  });
  // One key object for the features that sign with it, so a rotation reaches all of them at once.
  const serverKey = await openServerSigningKey(config.dataDir);
  const featureCtx: FeatureContext = { config, store, registry, tokens, presence, router, publisher: broker.publisher, metrics, log, clock, serverKey };
  // The staged rollouts come first: the firmware feature's hooks (delivered bytes, windows, link
  // rates) and the jobs feature (admission, execution changes) are given the same object.
  const rollouts = createRollouts(featureCtx, health);
  /** Features, in start order (a later one may depend on an earlier one's tables). */
  const featureFactories: FeatureFactory[] = [shadowsFeature, firmwareFeature(jobsFirmwareHooks(rollouts)), jobsFeature(rollouts), certificates.feature(broker)];
  const features: Feature[] = [];
  for (const factory of featureFactories) features.push(await factory(featureCtx));
  presence.on('event', (e) => {
    if (e.event === 'connected') {
      for (const f of features) {
        Promise.resolve(f.onDeviceConnected?.(e.deviceId)).catch((err: unknown) => log.error({ err, feature: f.name }, 'onDeviceConnected failed'));
      }
    }
    broker.publisher.publish(topics.presenceEvent(e.deviceId), e).catch((err: unknown) => log.warn({ err }, 'presence event not published'));
  });
  if (config.allowAnonymous) log.warn('BATON_ALLOW_ANONYMOUS is on: clients without credentials may connect (outside devices/, fleet/, provisioning/)');

  let listening = false;
  const ctx: ApiContext = { store, registry, tokens, presence, metrics, guard: createAuthGuard(tokens), sessions: broker.sessions, connections: broker, ready: () => ready() };
  const httpTimeouts: HttpTimeouts = { ...defaultHttpTimeouts, ...options.httpTimeouts };
  const http = await buildHttpApp(ctx, log, features.flatMap((f) => (f.routes ? [f.routes] : [])), httpTimeouts);
  const onTlsRefused = (reason: string, remoteAddress: string) => {
    metrics.authFailures.inc({ reason });
    log.debug({ reason, remoteAddress }, 'TLS client refused');
  };
  const mqtt = tcpListener(broker, config.host, config.mqttPort);
  const ws = webSocketListener(broker, http.server, 'ws', undefined, config.mqttMaxPacketBytes);
  const mqtts = tlsListener(broker, config.host, config.mqttsPort, pki.tls, onTlsRefused);
  const https = config.httpsPort === undefined
    ? undefined
    : httpsListener((req, res) => http.routing(req, res), config.host, config.httpsPort, pki.tls);
  // The HTTPS server is Node's, not fastify's: same timeouts (its default 300 s requestTimeout would cut slow firmware uploads).
  if (https) applyServerTimeouts(https.server, httpTimeouts);
  const listeners: Listener[] = [mqtt, ws, mqtts, ...(https ? [https, webSocketListener(broker, https.server, 'wss', onTlsRefused, config.mqttMaxPacketBytes)] : [])];
  const ports = (): ListenPorts => ({
    mqttPort: mqtt.port(), httpPort: ws.port(), mqttsPort: mqtts.port(), ...(https ? { httpsPort: https.port() } : {}),
  });
  const ready = () => listening && store.isOpen() && http.server.listening && listeners.every((l) => l.listening());

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, task: () => unknown) => timers.push(setInterval(task, ms).unref());

  return {
    config,
    log,
    store,
    metrics,
    rollouts,
    firstAdminToken,
    ready,
    ports,
    async listen() {
      await http.listen({ host: config.host, port: config.httpPort });
      for (const l of listeners) await l.listen();
      every(1000, () => presence.sweep());
      every(1000, () => {
        const expired = broker.sessions.expire(clock());
        if (expired.length > 0) log.info({ clientIds: expired.slice(0, 20), count: expired.length }, 'persistent sessions expired');
        const stats = broker.sessions.stats();
        metrics.persistentSessions.set(stats.sessions);
        metrics.sessionQueuedMessages.set(stats.queued);
      });
      const prune = () => store.telemetry.prune(
        { maxAgeMs: config.telemetryRetentionDays * 86_400_000, maxRowsPerDevice: config.telemetryMaxRowsPerDevice }, now(),
      ).catch((err: unknown) => log.error({ err }, 'telemetry prune failed'));
      every(10 * 60_000, prune);
      for (const f of features) await f.start?.();
      listening = true;
      log.info(ports(), 'baton listening');
      return ports();
    },
    /** Stop accepting, close clients, flush pending writes, close the database. */
    async close() {
      listening = false;
      for (const t of timers) clearInterval(t);
      for (const f of [...features].reverse()) await f.close?.();
      // Disconnects during shutdown are recorded in the connection log, not announced to a closing broker.
      presence.removeAllListeners('event');
      const stopped = Promise.all(listeners.map((l) => l.close()));
      await broker.close();
      await stopped;
      await http.close();
      await store.close();
    },
  };
}
