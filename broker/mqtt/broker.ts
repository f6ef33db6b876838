/**
 * The aedes adapter: translates aedes' callbacks into calls on typed services, and nothing more.
 * Each hook is a short named function; decisions live in acl.ts, authenticate.ts and the
 * services behind the InboundRouter.
 */
import type { X509Certificate } from 'node:crypto';
import { finished } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type Connection, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import { BatonError, filterMatches, isBatonError, parseTopic, topics, type Transport } from '../../device-sdk/protocol/index.js';
import type { Metrics } from '../metrics.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { SessionHooks, SessionStore, StoredPacket, StoredSubscription } from '../sessions/types.js';
import { canPublish, canReceive, canSubscribe, keepsRetained } from './acl.js';
import type { Authenticator } from './authenticate.js';
import type { InboundRouter } from './inbound.js';
import { credentialKey, type ConnectionInfo, type Credential, type Principal } from './principal.js';
import { CredentialIndex } from './credential-index.js';
import { guardPacketSize } from './packet-size-guard.js';
import { watchBrokerErrors } from './broker-errors.js';
import { guardClientTable } from './client-table.js';
import { ConnectLimiter, type ConnectLimits } from './connect-limiter.js';
import { forgetPassword, rememberConnectEnd } from './connect-secrets.js';
import { DeviceConnections } from './device-connections.js';
import { createPublisher, type Publisher } from './publisher.js';

export interface MqttBrokerDeps {
  authenticate: Authenticator;
  router: InboundRouter;
  presence: PresenceTracker;
  metrics: Metrics;
  log: Logger;
  clock: () => number;
  /** Called on every device connect/disconnect, to record it durably. */
  onPresence: (deviceId: string, info: ConnectionInfo, event: 'connected' | 'disconnected', reason?: string) => void;
  /** Builds the session store aedes persists into, given the broker's view of its clients. */
  sessions: (hooks: SessionHooks<Principal>) => SessionStore;
  /** Topic filters one client may hold (BATON_MQTT_MAX_SUBSCRIPTIONS). */
  maxSubscriptions: number;
  /** Largest MQTT packet accepted (BATON_MQTT_MAX_PACKET_BYTES); checked from the fixed header. */
  maxPacketBytes: number;
  /** Connection-storm limits (connect-limiter.ts); unlimited when absent. */
  connectLimits?: ConnectLimits;
}

export interface MqttBroker {
  aedes: Aedes;
  publisher: Publisher;
  sessions: SessionStore;
  /** Hands a new transport stream (TCP socket, TLS socket, WebSocket duplex) to the broker. */
  handle(stream: Connection, transport: Transport, remoteAddress: string, extra?: { peerCertificate?: X509Certificate }): void;
  info(client: Client): ConnectionInfo | undefined;
  /** Closes every connection that logged in with this credential (token, secret, certificate, claim, template); returns how many. */
  disconnectCredential(credential: Credential): number;
  close(): Promise<void>;
}

interface StreamInfo {
  transport: Transport;
  remoteAddress: string;
  /** The client certificate of a mutual-TLS connection (see listeners.ts). */
  peerCertificate?: X509Certificate;
}

export async function createMqttBroker(deps: MqttBrokerDeps): Promise<MqttBroker> {
  const { metrics, log } = deps;
  const streams = new WeakMap<Connection, StreamInfo>();
  const clients = new WeakMap<Client, ConnectionInfo>();
  const emptyClientIds = new WeakSet<Client>();
  const clientLogs = new WeakMap<Client, Logger>();
  /** Which connection each device's presence follows, across takeovers [MQTT-3.1.4-2]. */
  const deviceConnections = new DeviceConnections<Client, Parameters<PresenceTracker['connected']>[0]>(deps.presence);
  const connectLimiter = new ConnectLimiter<Connection>(deps.connectLimits ?? { connectsPerSec: 0, pendingPerAddress: 0 });
  /** Every open transport stream, so shutdown also ends those aedes has not registered (no CONNECT yet). */
  const openStreams = new Set<Connection>();
  /** CONNECTs past BATON_MQTT_MAX_CONNECTS_PER_SEC, refused with CONNACK 3 at authentication. */
  const overRate = new WeakSet<Client>();
  const kicked = new WeakSet<Client>();
  /** Connections by the credentials they logged in with, so a revocation can drop them. */
  const credentialIndex = new CredentialIndex<Client>((client) => kick(client));
  /** Payloads of messages a handler consumed or rejected: never forwarded to subscribers. */
  const notForwarded = new WeakSet<Buffer>();
  /** Subscription objects authorizeSubscribe granted: only these are stored in a session. */
  const grantedSubscriptions = new WeakSet<object>();
  /** The filters each connection holds, for BATON_MQTT_MAX_SUBSCRIPTIONS. */
  const heldFilters = new WeakMap<Client, Set<string>>();
  let shuttingDown = false;

  const sessions = deps.sessions({
    principalOf: (client) => clients.get(client as Client)?.principal,
    canQueue: (principal, packet) => !notForwarded.has(packet.payload as Buffer) && (principal === undefined || canReceive(principal, packet.topic ?? '')),
    granted: (sub: StoredSubscription) => grantedSubscriptions.has(sub),
    onDropped: (_clientId, count) => metrics.sessionDroppedMessages.inc(count),
    debug: (fields, message) => log.debug(fields, message),
  });
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000, persistence: sessions as never });
  const publisher = createPublisher(aedes, {
    // The same ACL and counts as authorizeForward below, for packets written past aedes' emitter.
    mayReceive: (client, topic) => {
      const info = clients.get(client);
      return info !== undefined && canReceive(info.principal, topic);
    },
    delivered: (topic, packets, payloadBytes) => {
      const root = topic.split('/')[0] ?? '';
      metrics.messagesOut.inc({ kind: root }, packets);
      metrics.bytesOut.inc({ kind: root }, payloadBytes);
    },
  });
  const clientTable = guardClientTable(aedes);
  watchBrokerErrors(aedes, log, metrics.brokerErrors);
  /** aedes' own table of registered connections by client id (not in its typings). */
  const liveClients = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
  const clientLog = (client: Client) => clientLogs.get(client) ?? log;

  aedes.preConnect = (client, packet, callback) => {
    // aedes replaces an empty client id with a generated one; remember it for [MQTT-3.1.3-8].
    if (!packet.clientId) emptyClientIds.add(client);
    rememberConnectEnd(client);
    const wait = connectLimiter.reserve();
    if (wait === undefined) overRate.add(client);
    if (!wait) return callback(null, true);
    setTimeout(() => callback(client.closed ? new Error('closed while waiting for its connect slot') : null, true), wait);
  };

  aedes.authenticate = (client, username, password, done) => {
    const stream = streams.get(client.conn) ?? { transport: 'tcp' as const, remoteAddress: 'unknown' };
    // Authentication needs only this string: the password's bytes are zeroed now (connect-secrets.ts).
    const secret = password?.toString();
    forgetPassword(client, password);
    if (overRate.has(client)) return refuseBusy(client, stream.remoteAddress, done);
    const attempt = credentialIndex.attempt();
    deps
      .authenticate({
        clientId: client.id,
        emptyClientId: emptyClientIds.has(client),
        clean: client.clean,
        username,
        password: secret,
        transport: stream.transport,
        peerCertificate: stream.peerCertificate,
      })
      .then((decided) => {
        const keys = decided.ok ? decided.credentials.map(credentialKey) : [];
        // A credential revoked while this authentication read the store is refused like one revoked before.
        const result = attempt.revokedSince(keys) ? { ok: false as const, returnCode: 5, reason: 'credential-revoked' } : decided;
        if (!result.ok) {
          metrics.authFailures.inc({ reason: result.reason });
          log.info({ clientId: client.id, remoteAddress: stream.remoteAddress, reason: result.reason }, 'connect refused');
          const err = new Error(`connect refused: ${result.reason}`) as AuthenticateError;
          err.returnCode = result.returnCode;
          return done(err, false);
        }
        if (result.principal.kind === 'device') deviceConnections.authenticated(result.principal.deviceId, client);
        connectLimiter.settle(client.conn);
        credentialIndex.add(client, keys);
        finished(client.conn, () => credentialIndex.remove(client));
        clients.set(client, { principal: result.principal, transport: stream.transport, remoteAddress: stream.remoteAddress, connectedAt: deps.clock() });
        clientLogs.set(client, log.child({ clientId: client.id, principal: result.principal.kind, transport: stream.transport }));
        done(null, true);
      })
      .catch((err: unknown) => {
        log.error({ err, clientId: client.id }, 'authentication failed with an error');
        const e = new Error('server unavailable') as AuthenticateError;
        e.returnCode = 3;
        done(e, false);
      })
      .finally(() => attempt.end());
  };

  /** Past BATON_MQTT_MAX_CONNECTS_PER_SEC: CONNACK 3 before any authentication work; devices back off and retry. */
  function refuseBusy(client: Client, remoteAddress: string, done: (err: AuthenticateError | null, ok: boolean) => void): void {
    metrics.connectsThrottled.inc({ reason: 'rate' });
    log.debug({ clientId: client.id, remoteAddress }, 'connect refused: connect rate limit');
    const err = new Error('server busy: connect rate limit') as AuthenticateError;
    err.returnCode = 3;
    done(err, false);
  }

  aedes.authorizePublish = (client, packet, callback) => {
    const info = client ? clients.get(client) : undefined;
    // Wills and broker-internal publishes have no client: only the broker itself publishes those.
    if (!client || !info) return callback(new Error('not authenticated'));
    if (!canPublish(info.principal, packet.topic)) {
      metrics.aclDenials.inc({ action: 'publish' });
      clientLog(client).warn({ topic: packet.topic }, 'publish denied by ACL; closing connection');
      // [MQTT-3.3.5-2]: the server may close the connection instead of acknowledging.
      return callback(new Error(`publish to ${packet.topic} denied`));
    }
    // The store keeps the history of Baton's own topics: a retained copy would only replay stale data.
    if (packet.retain && !keepsRetained(packet.topic)) packet.retain = false;
    handleInbound(client, info.principal, packet)
      .then(() => queueForOfflineSessions(packet))
      .then(
        () => callback(null),
        (err: unknown) => {
          // A store failure: do not acknowledge; closing makes the client resend after reconnect.
          clientLog(client).error({ err, topic: packet.topic }, 'inbound message failed');
          callback(err as Error);
        },
      );
  };

  /**
   * aedes sends a QoS 1 PUBACK before it queues the message for persistent sessions, so a kill -9
   * right after the PUBACK would lose their copies. Queue them here, durably, before the PUBACK;
   * when aedes queues the message in turn, the store recognises these copies by their payload and
   * only gives them aedes' numbering.
   */
  async function queueForOfflineSessions(packet: PublishPacket): Promise<void> {
    if (packet.qos === 0 || notForwarded.has(packet.payload as Buffer)) return;
    const subs = await sessions.subscriptionsByTopic(packet.topic);
    if (subs.length > 0) await sessions.outgoingEnqueueCombi(subs, packet as unknown as StoredPacket);
  }

  async function handleInbound(client: Client, principal: Principal, packet: PublishPacket): Promise<void> {
    const payload = packet.payload as Buffer;
    const parsed = parseTopic(packet.topic);
    const kind = parsed?.kind ?? 'other';
    metrics.messagesIn.inc({ kind });
    metrics.bytesIn.inc({ kind }, payload.length);
    if (principal.kind === 'device') deps.presence.activity(principal.deviceId);
    const handler = parsed ? deps.router.get(parsed.kind) : undefined;
    if (!parsed || !handler) {
      if (principal.kind === 'anonymous') return;
      notForwarded.add(payload);
      return reject(principal, packet.topic, new BatonError('InvalidRequest', `${kind} is not handled by this broker`));
    }
    try {
      const outcome = await handler({ principal, topic: parsed, payload, qos: packet.qos });
      if (outcome === 'consume') notForwarded.add(payload);
    } catch (err) {
      if (!isBatonError(err)) throw err;
      notForwarded.add(payload);
      clientLog(client).info({ topic: packet.topic, code: err.code }, 'payload dropped');
      await reject(principal, packet.topic, err);
    }
  }

  /** A dropped payload is counted and reported to the device; the connection stays up. */
  async function reject(principal: Principal, topic: string, err: BatonError): Promise<void> {
    metrics.droppedPayloads.inc({ reason: err.code });
    if (principal.kind !== 'device') return;
    await publisher.publish(topics.errors(principal.deviceId), {
      code: err.code,
      message: err.message,
      topic,
      timestamp: new Date(deps.clock()).toISOString(),
    });
  }

  /**
   * Decides at once, answers on the next tick: aedes then has every filter of the SUBSCRIBE decided
   * before it stores any, so the session store writes the granted ones in one pass (linear in the
   * number of filters, where aedes alone stores the whole list once per filter).
   */
  aedes.authorizeSubscribe = (client, sub: Subscription, callback) => {
    const info = clients.get(client);
    let held = heldFilters.get(client);
    if (!held) heldFilters.set(client, (held = new Set()));
    if (!info || !canSubscribe(info.principal, sub.topic)) {
      metrics.aclDenials.inc({ action: 'subscribe' });
      clientLog(client).warn({ topic: sub.topic }, 'subscribe denied by ACL');
      return process.nextTick(callback, null, null); // SUBACK 0x80 for this filter [MQTT-3.9.3]
    }
    if (!held.has(sub.topic) && held.size >= deps.maxSubscriptions) {
      metrics.subscriptionLimitRefusals.inc();
      clientLog(client).warn({ topic: sub.topic, limit: deps.maxSubscriptions }, 'subscribe refused: subscription limit reached');
      return process.nextTick(callback, null, null);
    }
    held.add(sub.topic);
    grantedSubscriptions.add(sub);
    process.nextTick(callback, null, sub);
  };

  aedes.on('unsubscribe', (filters: string[], client: Client) => {
    const held = heldFilters.get(client);
    for (const f of filters) held?.delete(f);
  });

  aedes.authorizeForward = (client, packet) => {
    const info = clients.get(client);
    if (!info || notForwarded.has(packet.payload as Buffer) || !canReceive(info.principal, packet.topic)) return null;
    if (!client.clean && packet.qos > 0) {
      // The reconnect race: the live subscription and the queue replay both carry a message queued
      // while the client reconnected. Once acknowledged it is not sent again; a second send is a DUP.
      const state = sessions.deliveryState(client.id, packet as unknown as StoredPacket);
      if (state === 'acknowledged') return null;
      if (state === 'redelivery') packet.dup = true;
    }
    const root = packet.topic.split('/')[0] ?? '';
    metrics.messagesOut.inc({ kind: root });
    metrics.bytesOut.inc({ kind: root }, (packet.payload as Buffer).length);
    // aedes #1074: a QoS 2 message reached a QoS 1 wildcard subscription at QoS 2. Cap at the
    // highest QoS granted to a matching subscription [MQTT-3.8.4-6].
    const granted = grantedQos(client, packet.topic);
    return packet.qos > granted ? { ...packet, qos: granted } : packet;
  };

  aedes.on('client', (client) => {
    credentialIndex.registered(client);
    if (!client.clean) sessions.connected(client);
    const info = clients.get(client);
    if (info?.principal.kind !== 'device') return;
    const deviceId = info.principal.deviceId;
    const session = { deviceId, transport: info.transport, remoteAddress: info.remoteAddress, disconnect: () => kick(client) };
    if (!deviceConnections.registered(deviceId, client, session)) return;
    metrics.connects.inc({ transport: info.transport, kind: 'device' });
    metrics.connectedDevices.set(deps.presence.size);
    deps.onPresence(deviceId, info, 'connected');
  });

  aedes.on('clientDisconnect', (client) => {
    credentialIndex.remove(client);
    // Expiry counts from here, unless a newer connection with the same id already took over.
    if (!client.clean && !liveClients[client.id]) sessions.disconnected(client.id, deps.clock());
    const info = clients.get(client);
    if (info?.principal.kind !== 'device') return;
    const deviceId = info.principal.deviceId;
    const reason = disconnectReason(client);
    // While a successor that authenticated is on its way (a takeover), the device stays present
    // and only the durable log records this disconnect; see device-connections.ts.
    deviceConnections.disconnected(client, reason);
    metrics.connectedDevices.set(deps.presence.size);
    deps.onPresence(deviceId, info, 'disconnected', reason);
  });

  function disconnectReason(client: Client): string {
    if (shuttingDown) return 'server-shutdown';
    if (clientTable.tookOver(client)) return 'taken-over';
    if (kicked.has(client)) return 'kicked';
    if ((client as unknown as { _disconnected: boolean })._disconnected) return 'client-disconnect';
    return 'connection-lost';
  }

  function kick(client: Client): void {
    kicked.add(client);
    client.close();
  }

  aedes.on('clientError', (client, err) => clientLog(client).debug({ err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.debug({ err: err.message, clientId: client.id }, 'connection error'));

  return {
    aedes,
    publisher,
    sessions,
    handle(stream, transport, remoteAddress, extra) {
      if (!connectLimiter.accept(stream, remoteAddress)) {
        metrics.connectsThrottled.inc({ reason: 'pending-per-address' });
        log.debug({ remoteAddress, transport }, 'connection closed: too many unauthenticated connections from this address');
        stream.destroy();
        return;
      }
      streams.set(stream, { transport, remoteAddress, ...extra });
      const client = aedes.handle(stream);
      openStreams.add(stream);
      stream.once('close', () => {
        openStreams.delete(stream);
        connectLimiter.settle(stream);
        deviceConnections.closed(client);
        metrics.connectedDevices.set(deps.presence.size);
      });
      guardPacketSize(client, deps.maxPacketBytes, (announcedBytes) => {
        metrics.oversizePackets.inc();
        log.info({ remoteAddress, transport, announcedBytes, limit: deps.maxPacketBytes }, 'packet too large; connection closed');
      });
    },
    info: (client) => clients.get(client),
    disconnectCredential: (credential) => credentialIndex.drop(credentialKey(credential)),
    close() {
      shuttingDown = true;
      return new Promise((resolve) =>
        aedes.close(() => {
          for (const stream of openStreams) stream.destroy();
          resolve();
        }));
    },
  };
}

function grantedQos(client: Client, topic: string): 0 | 1 | 2 {
  const subs = (client as unknown as { subscriptions: Record<string, { qos: number }> }).subscriptions;
  let max = 0;
  for (const [filter, sub] of Object.entries(subs)) {
    if (sub.qos > max && filterMatches(filter, topic)) max = sub.qos;
  }
  return max as 0 | 1 | 2;
}
