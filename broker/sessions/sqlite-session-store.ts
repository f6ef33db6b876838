/**
 * Baton's MQTT session store on the service's SQLite database, behind aedes-persistence 11's
 * async interface, so persistent sessions (clean session 0) survive a restart and a kill -9.
 *
 * Memory holds the indexes every packet needs (subscriptions by topic, each queue's order, packet
 * ids and sizes, retained topics); payloads stay on disk. Every change goes through the service's
 * group commit in call order. Changes that precede an acknowledgement to a peer (SUBACK, the
 * PUBACK of a message queued for offline sessions, PUBREC, CONNACK after a will) resolve only once
 * committed; delivery bookkeeping (packet ids assigned, PUBACKs received) is committed with the
 * next batch without being waited for, since losing it in a crash only means a redelivery with
 * DUP, which QoS 1 allows.
 *
 * The reconnect race (a message queued while its client reconnects reaches it both from the live
 * subscription and from the queue replay) is absorbed here: an update or acknowledgement for a
 * packet that is no longer queued is logged and ignored instead of failing the connection, and a
 * second send of the same message keeps its first packet id and carries DUP.
 */
import { Readable } from 'node:stream';
import type { Database, Statement } from 'better-sqlite3';
import { QlobberTrue } from 'qlobber';
import type { WriteBatcher } from '../store/sqlite/write-batcher.js';
import { ClientQueue, type QueuedMessage } from './outgoing-queues.js';
import { fromJsonRow, packetFields, payloadOf, toJsonRow, type JsonPacketRow } from './packet-rows.js';
import { SubscriptionIndex } from './subscription-index.js';
import type {
  ClientRef,
  DeliveryState,
  SessionHooks,
  SessionInfo,
  SessionLimits,
  SessionStore,
  StoredPacket,
  StoredSubscription,
} from './types.js';

export interface SqliteSessionStoreOptions<P> {
  db: Database;
  writer: WriteBatcher;
  limits: SessionLimits;
  hooks?: Partial<SessionHooks<P>>;
  clock?: () => number;
}

interface SessionState<P> {
  principal: P | undefined;
  /** Null while connected. */
  disconnectedAt: number | null;
  dropped: number;
}

interface OutgoingRow {
  seq: number;
  topic: string | null;
  qos: number;
  retain: number;
  payload: Buffer | string | null;
}

type Write = (db: Database) => void;

/**
 * Broker ids for queued messages aedes has not numbered (yet): queued by the broker before its
 * PUBACK, or restored from disk after a restart. Their counter is their seq, so they stay unique.
 */
const QUEUED_BEFORE_ACK = 'baton:queued';
const RESTORED = 'baton:restored';

const OUTGOING_PAGE = 100;
const matcherOptions = { wildcard_one: '+', wildcard_some: '#', separator: '/', match_empty_levels: true };
const startsWithWildcard = (filter: string | undefined): boolean => filter !== undefined && (filter[0] === '+' || filter[0] === '#');

const defaultHooks: SessionHooks<unknown> = {
  principalOf: () => undefined,
  canQueue: () => true,
  granted: () => true,
  onDropped: () => undefined,
  debug: () => undefined,
};

export class SqliteSessionStore<P = unknown> implements SessionStore {
  #broker: { id: string } | undefined;
  private readonly db: Database;
  private readonly writer: WriteBatcher;
  private readonly limits: SessionLimits;
  private readonly hooks: SessionHooks<P>;
  private readonly clock: () => number;
  private readonly sessions = new Map<string, SessionState<P>>();
  private readonly subscriptions = new SubscriptionIndex();
  private readonly queues = new Map<string, ClientQueue>();
  /** Retained topics, in the order they were first stored. */
  private readonly retained = new Set<string>();
  /** One SUBSCRIBE's list, stored once: aedes calls addSubscriptions with the whole list per filter. */
  private readonly subscribeLists = new WeakMap<object, { clientId: string; stored: Promise<void> }>();
  /** Copies queued before aedes numbered their message, by payload (one Buffer per PUBLISH). */
  private readonly awaitingNumber = new WeakMap<Buffer, Map<string, QueuedMessage>>();
  private nextSeq = 1;
  private readonly sql: ReturnType<typeof prepare>;

  constructor(options: SqliteSessionStoreOptions<P>) {
    this.db = options.db;
    this.writer = options.writer;
    this.limits = options.limits;
    this.hooks = { ...(defaultHooks as SessionHooks<P>), ...options.hooks };
    this.clock = options.clock ?? Date.now;
    this.sql = prepare(options.db);
  }

  /** aedes' broker (its id marks wills and queued packets); the abstract suite reads it. */
  get broker(): { id: string } {
    return this.#broker!;
  }

  async setup(broker: { id: string }): Promise<void> {
    this.#broker = broker;
    this.load();
  }

  private load(): void {
    const now = this.clock();
    const { db } = this;
    for (const row of db.prepare('SELECT client_id, principal_json, disconnected_at, dropped FROM mqtt_sessions').all() as Array<{
      client_id: string; principal_json: string | null; disconnected_at: number | null; dropped: number;
    }>) {
      // A session whose client was connected when the broker stopped starts ageing now.
      this.sessions.set(row.client_id, {
        principal: row.principal_json === null ? undefined : (JSON.parse(row.principal_json) as P),
        disconnectedAt: row.disconnected_at ?? now,
        dropped: row.dropped,
      });
    }
    db.prepare('UPDATE mqtt_sessions SET disconnected_at = ? WHERE disconnected_at IS NULL').run(now);
    for (const row of db.prepare('SELECT client_id, topic, qos, options FROM mqtt_subscriptions').all() as Array<{
      client_id: string; topic: string; qos: number; options: string | null;
    }>) {
      this.subscriptions.add(row.client_id, { topic: row.topic, qos: row.qos, ...(row.options ? JSON.parse(row.options) : {}) });
    }
    for (const row of db
      .prepare('SELECT seq, client_id, cmd, message_id, length(payload) AS bytes FROM mqtt_outgoing ORDER BY seq')
      .iterate() as Iterable<{ seq: number; client_id: string; cmd: string; message_id: number | null; bytes: number | null }>) {
      this.queueOf(row.client_id).add({
        seq: row.seq,
        clientId: row.client_id,
        cmd: row.cmd === 'pubrel' ? 'pubrel' : 'publish',
        brokerId: RESTORED,
        brokerCounter: row.seq,
        messageId: row.message_id ?? undefined,
        bytes: row.bytes ?? 0,
        sends: row.message_id === null ? 0 : 1,
      });
      this.nextSeq = row.seq + 1;
    }
    for (const row of db.prepare('SELECT topic FROM mqtt_retained ORDER BY rowid').all() as Array<{ topic: string }>) {
      this.retained.add(row.topic);
    }
  }

  // --- retained messages ---

  async storeRetained(packet: StoredPacket): Promise<void> {
    const topic = packet.topic!;
    if (payloadOf(packet).length === 0) {
      this.retained.delete(topic);
      return this.write((db) => this.sql.deleteRetained.run(topic));
    }
    if (!this.retained.has(topic) && this.retained.size >= this.limits.maxRetained) {
      this.hooks.debug({ topic, limit: this.limits.maxRetained }, 'retained message not kept: the retained store is full');
      return;
    }
    this.retained.add(topic);
    const row = toJsonRow(packet);
    return this.write(() => this.sql.putRetained.run(topic, row.packet_json, row.payload));
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    // Nothing retained (always so outside anonymous mode): no matcher over thousands of filters.
    if (this.retained.size === 0) return Readable.from([]);
    // One matcher over all patterns and one pass over the topics: linear in both, not their product.
    const all = new QlobberTrue(matcherOptions);
    const noLeadingWildcard = new QlobberTrue(matcherOptions);
    for (const p of patterns) {
      all.add(p);
      if (!startsWithWildcard(p)) noLeadingWildcard.add(p);
    }
    const topics = [...this.retained];
    const get = this.sql.getRetained;
    return Readable.from(
      (function* () {
        for (const topic of topics) {
          // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a `$` topic.
          if (!(topic.startsWith('$') ? noLeadingWildcard : all).test(topic)) continue;
          const row = get.get(topic) as JsonPacketRow | undefined;
          if (row) yield fromJsonRow(row);
        }
      })(),
    );
  }

  // --- subscriptions ---

  addSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void> {
    const pending = this.subscribeLists.get(subs);
    if (pending?.clientId === client.id) return pending.stored;
    const stored = this.storeSubscriptions(client, subs);
    this.subscribeLists.set(subs, { clientId: client.id, stored });
    return stored;
  }

  private storeSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void> {
    const changed: StoredSubscription[] = [];
    for (const sub of subs) {
      if (!this.hooks.granted(sub)) continue;
      const normalized = normalizeSubscription(sub);
      if (this.subscriptions.add(client.id, normalized)) changed.push(normalized);
    }
    const session = this.sessionOf(client);
    const principalJson = session.principal === undefined ? null : JSON.stringify(session.principal);
    return this.write(() => {
      this.sql.upsertSession.run(client.id, principalJson, session.disconnectedAt);
      for (const { topic, qos, ...options } of changed) {
        this.sql.putSubscription.run(client.id, topic, qos, Object.keys(options).length > 0 ? JSON.stringify(options) : null);
      }
    });
  }

  async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    const removed = topics.filter((t) => this.subscriptions.remove(client.id, t));
    if (removed.length === 0) return;
    return this.write(() => {
      for (const topic of removed) this.sql.deleteSubscription.run(client.id, topic);
    });
  }

  async subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]> {
    return this.subscriptions.forClient(client.id);
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return this.subscriptions.counts();
  }

  async subscriptionsByTopic(topic: string) {
    return this.subscriptions.match(topic);
  }

  /** A clean-session CONNECT: the session ends, with its subscriptions and its queue [MQTT-3.1.2-6]. */
  async cleanSubscriptions(client: ClientRef): Promise<void> {
    if (!this.sessions.has(client.id) && !this.subscriptions.has(client.id) && !this.queues.has(client.id)) return;
    return this.dropSession(client.id, false);
  }

  // --- the outgoing queue ---

  async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    return this.outgoingEnqueueCombi([sub], packet);
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string; topic?: string; qos?: number }>, packet: StoredPacket): Promise<void> {
    if (subs.length === 0) return;
    const topic = packet.topic ?? '';
    // Overlapping subscriptions of one client queue one copy, at the highest granted QoS.
    const targets = new Map<string, number>();
    for (const sub of subs) {
      if (topic.startsWith('$') && startsWithWildcard(sub.topic)) continue; // [MQTT-4.7.2-1]
      if (!this.hooks.canQueue(this.sessions.get(sub.clientId)?.principal, packet)) continue;
      targets.set(sub.clientId, Math.max(targets.get(sub.clientId) ?? 0, sub.qos ?? 2));
    }
    if (targets.size === 0) return;
    // A string payload stays a string (SQLite TEXT), as aedes handed it over.
    const payload = typeof packet.payload === 'string' ? packet.payload : payloadOf(packet);
    const numbered = packet.brokerId !== undefined && packet.brokerCounter !== undefined;
    const queuedBeforeAck = Buffer.isBuffer(payload) ? this.awaitingNumber.get(payload) : undefined;
    const writes: Write[] = [];
    for (const [clientId, grantedQos] of targets) {
      const queue = this.queueOf(clientId);
      if (numbered) {
        // The broker queued this copy before its PUBACK; aedes now numbers the message.
        const early = queuedBeforeAck?.get(clientId);
        if (early) {
          queuedBeforeAck!.delete(clientId);
          if (queue.messages.get(early.seq) === early) queue.rekey(early, packet.brokerId!, packet.brokerCounter!);
          continue;
        }
        if (queue.byBrokerCounter(packet.brokerId, packet.brokerCounter)) continue;
      }
      const seq = this.nextSeq++;
      const message: QueuedMessage = {
        seq,
        clientId,
        cmd: 'publish',
        brokerId: numbered ? packet.brokerId : QUEUED_BEFORE_ACK,
        brokerCounter: numbered ? packet.brokerCounter : seq,
        messageId: undefined,
        bytes: Buffer.byteLength(payload),
        sends: 0,
      };
      queue.add(message);
      if (!numbered && Buffer.isBuffer(payload)) {
        let early = this.awaitingNumber.get(payload);
        if (!early) this.awaitingNumber.set(payload, (early = new Map()));
        early.set(clientId, message);
      }
      const qos = Math.min(packet.qos ?? 0, grantedQos);
      writes.push(() => this.sql.insertOutgoing.run(seq, clientId, topic, qos, packet.retain ? 1 : 0, payload));
      this.trim(clientId, queue, writes);
    }
    if (writes.length === 0) return;
    return this.write(() => {
      for (const w of writes) w(this.db);
    });
  }

  /** Drops the oldest messages of a queue past its bounds; the newest always stays. */
  private trim(clientId: string, queue: ClientQueue, writes: Write[]): void {
    let dropped = 0;
    while (queue.size > 1 && (queue.size > this.limits.maxQueued || queue.bytes > this.limits.maxQueuedBytes)) {
      const oldest = queue.oldest()!;
      queue.delete(oldest);
      writes.push(() => this.sql.deleteOutgoing.run(oldest.seq));
      dropped += 1;
    }
    if (dropped === 0) return;
    const session = this.sessions.get(clientId);
    if (session) session.dropped += dropped;
    writes.push(() => this.sql.addDropped.run(dropped, clientId));
    this.hooks.onDropped(clientId, dropped);
  }

  async outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    const queue = this.queues.get(client.id);
    if (packet.cmd !== 'publish') {
      // PUBREC received: the message now waits for PUBCOMP as a PUBREL [MQTT-4.3.3].
      const message = packet.messageId === undefined ? undefined : queue?.withMessageId(packet.messageId);
      if (!message) return this.hooks.debug({ clientId: client.id, messageId: packet.messageId }, 'PUBREC for a packet id not in flight; answered with PUBREL');
      message.cmd = 'pubrel';
      this.writeLater(() => this.sql.setPubrel.run(message.seq));
      return;
    }
    const message = queue?.byBrokerCounter(packet.brokerId, packet.brokerCounter);
    if (!queue || !message) {
      return this.hooks.debug({ clientId: client.id, messageId: packet.messageId }, 'delivery of a message no longer queued');
    }
    message.sends += 1;
    if (message.messageId !== undefined && message.messageId !== packet.messageId && message.sends > 1) {
      // Already on its way under another packet id (the reconnect race): the same id, with DUP.
      packet.messageId = message.messageId;
      packet.dup = true;
      return;
    }
    const messageId = queue.freeMessageId(packet.messageId ?? 1, message);
    packet.messageId = messageId;
    if (message.messageId === messageId) return;
    queue.setMessageId(message, messageId);
    this.writeLater(() => this.sql.setMessageId.run(messageId, message.seq));
  }

  async outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket | undefined> {
    const messageId = packet?.messageId;
    const queue = this.queues.get(client.id);
    const message = messageId === undefined ? undefined : queue?.withMessageId(messageId);
    if (!queue || !message) {
      // Mosquitto's behaviour: an acknowledgement for an unknown packet id is ignored, not fatal.
      if (messageId !== undefined) this.hooks.debug({ clientId: client.id, messageId }, 'acknowledgement for a packet id not in flight; ignored');
      return undefined;
    }
    const row = this.outgoingRow(message.seq);
    queue.delete(message);
    queue.acknowledged(message);
    this.writeLater(() => this.sql.deleteOutgoing.run(message.seq));
    return row ? this.packetOf(message, row) : undefined;
  }

  outgoingStream(client: ClientRef): Readable {
    // Replayed from disk, with the index deciding what is still queued and under which packet id.
    // A copy whose insert is not committed yet is not replayed, and need not be: aedes delivers a
    // message to live subscriptions only after its queued copies are committed, and this client
    // is subscribed again before its queue is replayed.
    const queue = this.queues.get(client.id);
    const page = this.sql.outgoingPage;
    const packetOf = (m: QueuedMessage, row: OutgoingRow) => this.packetOf(m, row);
    return Readable.from(
      (function* () {
        if (!queue) return;
        let after = 0;
        for (;;) {
          const rows = page.all(client.id, after, OUTGOING_PAGE) as OutgoingRow[];
          if (rows.length === 0) return;
          for (const row of rows) {
            after = row.seq;
            const message = queue.messages.get(row.seq);
            if (message) yield packetOf(message, row);
          }
        }
      })(),
    );
  }

  private outgoingRow(seq: number): OutgoingRow | undefined {
    const row = this.sql.getOutgoing.get(seq) as OutgoingRow | undefined;
    if (row) return row;
    this.writer.flush(); // queued in this very turn and not committed yet
    return this.sql.getOutgoing.get(seq) as OutgoingRow | undefined;
  }

  private packetOf(m: QueuedMessage, row: OutgoingRow): StoredPacket {
    if (m.cmd === 'pubrel') return { cmd: 'pubrel', messageId: m.messageId };
    return {
      cmd: 'publish',
      topic: row.topic ?? '',
      payload: row.payload ?? Buffer.alloc(0),
      qos: row.qos,
      retain: row.retain === 1,
      dup: false,
      brokerId: m.brokerId,
      brokerCounter: m.brokerCounter,
      messageId: m.messageId,
    };
  }

  // --- incoming QoS 2 ---

  async incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    const row = toJsonRow({ ...packetFields(packet), payload: payloadOf(packet) });
    return this.write(() => this.sql.putIncoming.run(client.id, packet.messageId, row.packet_json, row.payload));
  }

  async incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket> {
    const row = this.sql.getIncoming.get(client.id, packet.messageId) as JsonPacketRow | undefined;
    if (!row) throw new Error('no such packet');
    return fromJsonRow(row);
  }

  async incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void> {
    if (!this.sql.getIncoming.get(client.id, packet.messageId)) throw new Error('no such packet');
    return this.write(() => this.sql.deleteIncoming.run(client.id, packet.messageId));
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    return this.write(() => this.sql.clearIncoming.run(client.id));
  }

  // --- wills ---

  async putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    packet.brokerId = this.broker.id;
    packet.clientId = client.id;
    const row = toJsonRow(packet);
    return this.write(() => this.sql.putWill.run(client.id, packet.brokerId, row.packet_json, row.payload));
  }

  async getWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const row = this.sql.getWill.get(client.id) as JsonPacketRow | undefined;
    return row ? fromJsonRow(row) : undefined;
  }

  async delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = await this.getWill(client);
    if (will) await this.write(() => this.sql.deleteWill.run(client.id));
    return will;
  }

  streamWill(brokers: Record<string, unknown> = {}): Readable {
    const rows = this.sql.allWills.all() as Array<JsonPacketRow & { broker_id: string }>;
    return Readable.from(rows.filter((r) => !brokers[r.broker_id]).map(fromJsonRow));
  }

  getClientList(topic: string): Readable {
    return Readable.from([...this.subscriptions.clientsWith(topic)]);
  }

  async destroy(): Promise<void> {
    // The database belongs to the service's store, which closes it.
  }

  // --- Baton's session lifecycle ---

  connected(client: ClientRef): void {
    const session = this.sessions.get(client.id);
    if (!session) return;
    session.principal = this.hooks.principalOf(client) ?? session.principal;
    session.disconnectedAt = null;
    const principalJson = session.principal === undefined ? null : JSON.stringify(session.principal);
    this.writeLater(() => this.sql.upsertSession.run(client.id, principalJson, null));
  }

  disconnected(clientId: string, now: number): void {
    const session = this.sessions.get(clientId);
    if (!session) return;
    session.disconnectedAt = now;
    this.writeLater(() => this.sql.setDisconnected.run(now, clientId));
  }

  expire(now: number): string[] {
    const expired: string[] = [];
    for (const [clientId, s] of this.sessions) {
      if (s.disconnectedAt !== null && now - s.disconnectedAt >= this.limits.expiryMs) expired.push(clientId);
    }
    for (const clientId of expired) void this.dropSession(clientId, true);
    return expired;
  }

  forget(clientId: string): Promise<void> {
    return this.dropSession(clientId, true);
  }

  private dropSession(clientId: string, withIncoming: boolean): Promise<void> {
    this.subscriptions.clear(clientId);
    this.queues.delete(clientId);
    this.sessions.delete(clientId);
    return this.write(() => {
      this.sql.clearSubscriptions.run(clientId);
      this.sql.clearOutgoing.run(clientId);
      this.sql.deleteSession.run(clientId);
      if (withIncoming) this.sql.clearIncoming.run(clientId);
    });
  }

  info(clientId: string, connected: boolean): SessionInfo {
    const session = this.sessions.get(clientId);
    const queue = this.queues.get(clientId);
    const away = session && !connected && session.disconnectedAt !== null ? session.disconnectedAt : undefined;
    return {
      persistent: session !== undefined,
      queued: queue?.size ?? 0,
      queuedBytes: queue?.bytes ?? 0,
      dropped: session?.dropped ?? 0,
      expiresAt: away === undefined ? null : new Date(away + this.limits.expiryMs).toISOString(),
    };
  }

  deliveryState(clientId: string, packet: StoredPacket): DeliveryState {
    const queue = this.queues.get(clientId);
    if (!queue) return 'unknown';
    const message = queue.byBrokerCounter(packet.brokerId, packet.brokerCounter);
    if (!message) return queue.wasAcknowledged(packet.brokerId, packet.brokerCounter) ? 'acknowledged' : 'unknown';
    // The queue replay calls outgoingUpdate (one send) before asking; a live delivery asks first.
    return message.sends > (packet.messageId === undefined ? 0 : 1) ? 'redelivery' : 'first';
  }

  stats(): { sessions: number; queued: number; retained: number } {
    let queued = 0;
    for (const q of this.queues.values()) queued += q.size;
    return { sessions: this.sessions.size, queued, retained: this.retained.size };
  }

  // --- helpers ---

  private sessionOf(client: ClientRef): SessionState<P> {
    let session = this.sessions.get(client.id);
    if (!session) this.sessions.set(client.id, (session = { principal: undefined, disconnectedAt: null, dropped: 0 }));
    session.principal = this.hooks.principalOf(client) ?? session.principal;
    return session;
  }

  private queueOf(clientId: string): ClientQueue {
    let queue = this.queues.get(clientId);
    if (!queue) this.queues.set(clientId, (queue = new ClientQueue()));
    return queue;
  }

  private write(write: Write): Promise<void> {
    return this.writer.enqueue(write);
  }

  /** Committed with the next batch, not waited for (see the header). */
  private writeLater(write: Write): void {
    this.writer.enqueue(write).catch((err: unknown) => this.hooks.debug({ err }, 'session bookkeeping write failed'));
  }
}

function normalizeSubscription(sub: StoredSubscription): StoredSubscription {
  const out: StoredSubscription = { topic: sub.topic, qos: sub.qos };
  if (sub.rh !== undefined) out.rh = sub.rh;
  if (sub.rap !== undefined) out.rap = sub.rap;
  if (sub.nl !== undefined) out.nl = sub.nl;
  if (sub.subscriptionIdentifier !== undefined) out.subscriptionIdentifier = sub.subscriptionIdentifier;
  return out;
}

function prepare(db: Database) {
  const s = (sql: string): Statement => db.prepare(sql);
  return {
    upsertSession: s(`INSERT INTO mqtt_sessions (client_id, principal_json, disconnected_at) VALUES (?, ?, ?)
      ON CONFLICT (client_id) DO UPDATE SET principal_json = excluded.principal_json, disconnected_at = excluded.disconnected_at`),
    setDisconnected: s('UPDATE mqtt_sessions SET disconnected_at = ? WHERE client_id = ?'),
    addDropped: s('UPDATE mqtt_sessions SET dropped = dropped + ? WHERE client_id = ?'),
    deleteSession: s('DELETE FROM mqtt_sessions WHERE client_id = ?'),
    putSubscription: s('INSERT OR REPLACE INTO mqtt_subscriptions (client_id, topic, qos, options) VALUES (?, ?, ?, ?)'),
    deleteSubscription: s('DELETE FROM mqtt_subscriptions WHERE client_id = ? AND topic = ?'),
    clearSubscriptions: s('DELETE FROM mqtt_subscriptions WHERE client_id = ?'),
    insertOutgoing: s("INSERT INTO mqtt_outgoing (seq, client_id, cmd, topic, qos, retain, payload) VALUES (?, ?, 'publish', ?, ?, ?, ?)"),
    getOutgoing: s('SELECT seq, topic, qos, retain, payload FROM mqtt_outgoing WHERE seq = ?'),
    outgoingPage: s('SELECT seq, topic, qos, retain, payload FROM mqtt_outgoing WHERE client_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
    setMessageId: s('UPDATE mqtt_outgoing SET message_id = ? WHERE seq = ?'),
    setPubrel: s("UPDATE mqtt_outgoing SET cmd = 'pubrel' WHERE seq = ?"),
    deleteOutgoing: s('DELETE FROM mqtt_outgoing WHERE seq = ?'),
    clearOutgoing: s('DELETE FROM mqtt_outgoing WHERE client_id = ?'),
    putIncoming: s('INSERT OR REPLACE INTO mqtt_incoming (client_id, message_id, packet_json, payload) VALUES (?, ?, ?, ?)'),
    getIncoming: s('SELECT packet_json, payload FROM mqtt_incoming WHERE client_id = ? AND message_id = ?'),
    deleteIncoming: s('DELETE FROM mqtt_incoming WHERE client_id = ? AND message_id = ?'),
    clearIncoming: s('DELETE FROM mqtt_incoming WHERE client_id = ?'),
    putWill: s('INSERT OR REPLACE INTO mqtt_wills (client_id, broker_id, packet_json, payload) VALUES (?, ?, ?, ?)'),
    getWill: s('SELECT packet_json, payload FROM mqtt_wills WHERE client_id = ?'),
    deleteWill: s('DELETE FROM mqtt_wills WHERE client_id = ?'),
    allWills: s('SELECT broker_id, packet_json, payload FROM mqtt_wills'),
    putRetained: s('INSERT OR REPLACE INTO mqtt_retained (topic, packet_json, payload) VALUES (?, ?, ?)'),
    getRetained: s('SELECT packet_json, payload FROM mqtt_retained WHERE topic = ?'),
    deleteRetained: s('DELETE FROM mqtt_retained WHERE topic = ?'),
  };
}
