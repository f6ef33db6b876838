/**
 * The in-memory index of persistent sessions' subscriptions: per client (to restore a session)
 * and by topic (a qlobber trie, to find who must get a copy of a QoS 1/2 message queued). The
 * store keeps it and the database in step; every PUBLISH matches against it, so it stays in
 * memory. Only QoS 1/2 subscriptions go in the trie: a QoS 0 one queues nothing [MQTT-3.1.2-5].
 */
import QlobberSub from 'qlobber/aedes/qlobber-sub.js';
import type { StoredSubscription, TopicSubscription } from './types.js';

const trieOptions = { wildcard_one: '+', wildcard_some: '#', separator: '/', match_empty_levels: true };

export type SubscriptionOptions = Omit<StoredSubscription, 'topic' | 'qos'>;

export class SubscriptionIndex {
  private readonly byClient = new Map<string, Map<string, { qos: number; options: SubscriptionOptions }>>();
  private readonly trie = new QlobberSub(trieOptions);

  /** Adds or replaces; returns false when the same subscription was there already. */
  add(clientId: string, sub: StoredSubscription): boolean {
    const { topic, qos, ...options } = sub;
    let subs = this.byClient.get(clientId);
    if (!subs) this.byClient.set(clientId, (subs = new Map()));
    const before = subs.get(topic);
    if (before && before.qos === qos && sameOptions(before.options, options)) return false;
    if (qos > 0) this.trie.add(topic, { clientId, topic, qos, rh: options.rh, rap: options.rap, nl: options.nl });
    else if (before && before.qos > 0) this.trie.remove(topic, { clientId, topic });
    subs.set(topic, { qos, options });
    return true;
  }

  /** Returns whether it was there. */
  remove(clientId: string, topic: string): boolean {
    const subs = this.byClient.get(clientId);
    const before = subs?.get(topic);
    if (!subs || !before) return false;
    if (before.qos > 0) this.trie.remove(topic, { clientId, topic });
    subs.delete(topic);
    if (subs.size === 0) this.byClient.delete(clientId);
    return true;
  }

  clear(clientId: string): void {
    for (const topic of [...(this.byClient.get(clientId)?.keys() ?? [])]) this.remove(clientId, topic);
  }

  forClient(clientId: string): StoredSubscription[] {
    return [...(this.byClient.get(clientId) ?? [])].map(([topic, { qos, options }]) => ({ topic, qos, ...options }));
  }

  has(clientId: string): boolean {
    return this.byClient.has(clientId);
  }

  match(topic: string): TopicSubscription[] {
    return this.trie.match(topic);
  }

  /** Clients holding exactly this filter. */
  *clientsWith(topic: string): Generator<string> {
    for (const [clientId, subs] of this.byClient) if (subs.has(topic)) yield clientId;
  }

  counts(): { subsCount: number; clientsCount: number } {
    return { subsCount: this.trie.subscriptionsCount, clientsCount: this.byClient.size };
  }
}

function sameOptions(a: SubscriptionOptions, b: SubscriptionOptions): boolean {
  return a.rh === b.rh && a.rap === b.rap && a.nl === b.nl && a.subscriptionIdentifier === b.subscriptionIdentifier;
}
