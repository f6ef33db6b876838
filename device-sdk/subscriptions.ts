/**
 * The client's subscriptions: which handlers want which topic filters, and the SUBSCRIBE
 * packets that keep the broker in step. Every filter is subscribed again at each connect, since
 * a broker that restarted has forgotten the session (CONNACK session present = 0, MQTT-3.2.2-2),
 * and subscribing again to an existing filter only replaces it (MQTT-3.8.4-3).
 */
import { BatonError } from './protocol/errors.js';
import { filterMatches } from './protocol/topic-filter.js';

export interface TopicMessage {
  topic: string;
  payload: Buffer;
}
/** The one handler signature for every message the client receives. */
export type TopicHandler = (message: TopicMessage) => void;
/** Removes a handler (and the subscription, when it was the filter's last handler). */
export type Unsubscribe = () => Promise<void>;

/** What the subscriptions need from the connection. */
export interface SubscribeLink {
  /** True between CONNACK and the link dropping. */
  isUp(): boolean;
  /** Resolves with the granted QoS per filter (128 = refused); rejects if the link drops first. */
  subscribe(filters: string[]): Promise<Array<{ topic: string; qos: number }>>;
  unsubscribe(filter: string): Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class Subscriptions {
  private readonly handlers = new Map<string, Set<TopicHandler>>();
  /** Filters the broker granted on the current link. */
  private readonly granted = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(
    private readonly link: SubscribeLink,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * Adds `handler` for `filter`; resolves once the broker granted the subscription (now if the
   * link is up, else at the next connect) and rejects with `Forbidden` if it refused it.
   */
  on(filter: string, handler: TopicHandler): Promise<Unsubscribe> {
    const set = this.handlers.get(filter) ?? new Set<TopicHandler>();
    set.add(handler);
    this.handlers.set(filter, set);
    const off: Unsubscribe = () => this.off(filter, handler);
    if (this.granted.has(filter)) return Promise.resolve(off);
    const first = !this.waiters.has(filter);
    const ready = new Promise<void>((resolve, reject) => {
      this.waiters.set(filter, [...(this.waiters.get(filter) ?? []), { resolve, reject }]);
    });
    if (first && this.link.isUp()) this.subscribe([filter]).catch(() => undefined); // retried at the next connect
    return ready.then(() => off);
  }

  /** At each connect: subscribe every filter again. Rejects if the link drops meanwhile. */
  async subscribeAll(): Promise<void> {
    this.granted.clear();
    if (this.handlers.size > 0) await this.subscribe([...this.handlers.keys()]);
  }

  linkDown(): void {
    this.granted.clear();
  }

  dispatch(topic: string, payload: Buffer): void {
    for (const [filter, set] of this.handlers) {
      if (!filterMatches(filter, topic)) continue;
      for (const handler of set) {
        try {
          handler({ topic, payload });
        } catch (err) {
          this.onError(err);
        }
      }
    }
  }

  /** At close: nothing will be granted any more. */
  failWaiters(err: Error): void {
    for (const filter of [...this.waiters.keys()]) this.settle(filter, err);
  }

  private async subscribe(filters: string[]): Promise<void> {
    const grants = await this.link.subscribe(filters);
    for (const { topic, qos } of grants) {
      if (qos < 128) {
        this.granted.add(topic);
        this.settle(topic);
        continue;
      }
      this.handlers.delete(topic);
      const err = new BatonError('Forbidden', `the broker refused the subscription to ${topic}`, { filter: topic });
      if (this.waiters.has(topic)) this.settle(topic, err);
      else this.onError(err);
    }
  }

  private settle(filter: string, err?: Error): void {
    const waiting = this.waiters.get(filter) ?? [];
    this.waiters.delete(filter);
    for (const w of waiting) (err ? w.reject(err) : w.resolve());
  }

  private async off(filter: string, handler: TopicHandler): Promise<void> {
    const set = this.handlers.get(filter);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(filter);
    this.granted.delete(filter);
    if (this.link.isUp()) await this.link.unsubscribe(filter).catch(() => undefined);
  }
}
