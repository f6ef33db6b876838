/**
 * The session layer's contract. aedes talks to a session store through aedes-persistence 11's
 * async interface (`AedesSessionPersistence` below); Baton adds what a device-management broker
 * needs on top: bounds, expiry, and a per-session view for the admin API. The SQLite store
 * (sqlite-session-store.ts) implements both; a Redis store for the cluster would implement the
 * same two interfaces.
 */
import type { Readable } from 'node:stream';

/** An MQTT packet as aedes hands it to persistence (aedes-packet's shape). */
export interface StoredPacket {
  cmd: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  messageId?: number | undefined;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
  [key: string]: unknown;
}

export interface StoredSubscription {
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
  subscriptionIdentifier?: number;
}

export interface TopicSubscription {
  clientId: string;
  topic: string;
  qos: number;
  rh?: number | undefined;
  rap?: boolean | undefined;
  nl?: boolean | undefined;
}

export interface ClientRef {
  id: string;
}

/** aedes-persistence 11's async interface, as aedes 1.x calls it. */
export interface AedesSessionPersistence {
  setup(broker: { id: string }): Promise<void>;
  storeRetained(packet: StoredPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
  addSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void>;
  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void>;
  subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  subscriptionsByTopic(topic: string): Promise<TopicSubscription[]>;
  cleanSubscriptions(client: ClientRef): Promise<void>;
  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: Array<{ clientId: string; topic?: string; qos?: number }>, packet: StoredPacket): Promise<void>;
  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void>;
  outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket | undefined>;
  outgoingStream(client: ClientRef): Readable;
  incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void>;
  incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket>;
  incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void>;
  cleanIncoming(client: ClientRef): Promise<void>;
  putWill(client: ClientRef, packet: StoredPacket): Promise<void>;
  getWill(client: ClientRef): Promise<StoredPacket | undefined>;
  delWill(client: ClientRef): Promise<StoredPacket | undefined>;
  streamWill(brokers?: Record<string, unknown>): Readable;
  getClientList(topic: string): Readable;
  destroy(): Promise<void>;
}

export interface SessionLimits {
  /** Queued messages per session; past it the oldest is dropped. */
  maxQueued: number;
  /** Queued payload bytes per session; past it the oldest is dropped. */
  maxQueuedBytes: number;
  /** A session with no connection for this long is deleted. */
  expiryMs: number;
  /** Retained messages kept; a new topic past it is not retained. */
  maxRetained: number;
}

/** What the broker tells the store about the principals behind client ids (see broker/mqtt/). */
export interface SessionHooks<P> {
  /** Who a connected client logged in as; undefined for a client the broker does not know. */
  principalOf(client: ClientRef): P | undefined;
  /**
   * Whether a message may be queued for a session: the ACL's receive rule for its principal
   * (undefined when unknown), and never a payload the broker consumed or rejected.
   */
  canQueue(principal: P | undefined, packet: StoredPacket): boolean;
  /** Whether the broker granted this subscription object (refused filters are never stored). */
  granted(sub: StoredSubscription): boolean;
  /** Messages dropped from a full queue (for metrics). */
  onDropped(clientId: string, count: number): void;
  /** Bookkeeping oddities worth a debug line: a PUBACK for an unknown packet id, and so on. */
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface SessionInfo {
  persistent: boolean;
  queued: number;
  queuedBytes: number;
  dropped: number;
  /** When the session will be deleted if the client stays away; null while it is connected. */
  expiresAt: string | null;
}

/** What the broker's delivery hook needs to know about one queued message of a session. */
export type DeliveryState =
  /** Not queued and not recently acknowledged: deliver normally (QoS 0, retained, no session). */
  | 'unknown'
  /** Queued and never sent yet. */
  | 'first'
  /** Sent before (an earlier connection, or the reconnect race): send again with DUP. */
  | 'redelivery'
  /** Already acknowledged by the client: sending it again would be a duplicate. */
  | 'acknowledged';

/** Baton's additions to the aedes interface. */
export interface SessionLifecycle {
  /** A client with clean session 0 connected (its session, if any, stops ageing). */
  connected(client: ClientRef): void;
  /** It disconnected at `now` (expiry counts from here). */
  disconnected(clientId: string, now: number): void;
  /** Deletes sessions whose client has been away longer than the expiry; returns their ids. */
  expire(now: number): string[];
  /** Deletes a session outright (its device was deleted). */
  forget(clientId: string): Promise<void>;
  info(clientId: string, connected: boolean): SessionInfo;
  deliveryState(clientId: string, packet: StoredPacket): DeliveryState;
  stats(): { sessions: number; queued: number; retained: number };
}

export type SessionStore = AedesSessionPersistence & SessionLifecycle;
