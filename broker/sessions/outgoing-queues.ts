/**
 * The in-memory index of every persistent session's outgoing queue: order, packet ids, sizes and
 * delivery attempts, without payloads (those stay on disk until the queue is streamed at
 * reconnect). It answers PUBACK look-ups and enforces the per-session bounds without a query,
 * and it remembers the last few acknowledgements so a message the client already acknowledged
 * is not sent again by the other delivery path of the reconnect race.
 */
export interface QueuedMessage {
  seq: number;
  clientId: string;
  cmd: 'publish' | 'pubrel';
  brokerId: string | undefined;
  brokerCounter: number | undefined;
  messageId: number | undefined;
  bytes: number;
  /** Times it was handed to the connection (0: never sent; restored rows with a packet id: 1). */
  sends: number;
}

const RECENT_ACKS = 64;

export class ClientQueue {
  /** By seq, in insertion (= delivery) order. */
  readonly messages = new Map<number, QueuedMessage>();
  bytes = 0;
  private readonly byCounter = new Map<string, QueuedMessage>();
  private readonly byMessageId = new Map<number, QueuedMessage>();
  private readonly recentAcks = new Set<string>();

  get size(): number {
    return this.messages.size;
  }

  add(m: QueuedMessage): void {
    this.messages.set(m.seq, m);
    this.bytes += m.bytes;
    const key = counterKey(m);
    if (key) this.byCounter.set(key, m);
    if (m.messageId !== undefined) this.byMessageId.set(m.messageId, m);
  }

  delete(m: QueuedMessage): void {
    if (!this.messages.delete(m.seq)) return;
    this.bytes -= m.bytes;
    const key = counterKey(m);
    if (key && this.byCounter.get(key) === m) this.byCounter.delete(key);
    if (m.messageId !== undefined && this.byMessageId.get(m.messageId) === m) this.byMessageId.delete(m.messageId);
  }

  oldest(): QueuedMessage | undefined {
    return this.messages.values().next().value;
  }

  byBrokerCounter(brokerId: string | undefined, brokerCounter: number | undefined): QueuedMessage | undefined {
    const key = counterKey({ brokerId, brokerCounter });
    return key ? this.byCounter.get(key) : undefined;
  }

  withMessageId(messageId: number): QueuedMessage | undefined {
    return this.byMessageId.get(messageId);
  }

  /** Gives a message the broker id and counter aedes will present it with. */
  rekey(m: QueuedMessage, brokerId: string, brokerCounter: number): void {
    const key = counterKey(m);
    if (key && this.byCounter.get(key) === m) this.byCounter.delete(key);
    m.brokerId = brokerId;
    m.brokerCounter = brokerCounter;
    this.byCounter.set(counterKey(m)!, m);
  }

  setMessageId(m: QueuedMessage, messageId: number): void {
    if (m.messageId !== undefined && this.byMessageId.get(m.messageId) === m) this.byMessageId.delete(m.messageId);
    m.messageId = messageId;
    this.byMessageId.set(messageId, m);
  }

  /** A packet id no other queued message holds, starting from `wanted` [MQTT-2.3.1-2]. */
  freeMessageId(wanted: number, owner: QueuedMessage): number {
    let id = wanted;
    for (let i = 0; i < 65_535; i++) {
      const holder = this.byMessageId.get(id);
      if (!holder || holder === owner) return id;
      id = id >= 65_535 ? 1 : id + 1;
    }
    return wanted;
  }

  acknowledged(m: QueuedMessage): void {
    const key = counterKey(m);
    if (!key) return;
    this.recentAcks.add(key);
    if (this.recentAcks.size > RECENT_ACKS) this.recentAcks.delete(this.recentAcks.values().next().value!);
  }

  wasAcknowledged(brokerId: string | undefined, brokerCounter: number | undefined): boolean {
    const key = counterKey({ brokerId, brokerCounter });
    return key !== undefined && this.recentAcks.has(key);
  }
}

function counterKey(m: { brokerId: string | undefined; brokerCounter: number | undefined }): string | undefined {
  return m.brokerId === undefined || m.brokerCounter === undefined ? undefined : `${m.brokerId}:${m.brokerCounter}`;
}
