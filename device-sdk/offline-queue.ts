/**
 * A bounded FIFO for messages written while the link is down. When full, the oldest entry makes
 * room for the newest: after an outage the broker gets the most recent readings, which for
 * telemetry are worth more than the oldest ones. Pure: the caller decides what a drop means.
 *
 * A ring buffer, so a full queue of any size costs O(1) per push.
 */
export class OfflineQueue<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private count = 0;
  /** How many entries were dropped to make room, since the queue was created. */
  dropped = 0;

  /** `limit` 0 queues nothing: every push is dropped at once. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`queue limit must be a non-negative integer, not ${limit}`);
    this.slots = new Array<T | undefined>(limit);
  }

  get size(): number {
    return this.count;
  }

  /** Appends `item`; returns the entry dropped to make room (the oldest, or `item` itself when the limit is 0). */
  push(item: T): T | undefined {
    if (this.limit === 0) {
      this.dropped++;
      return item;
    }
    let evicted: T | undefined;
    if (this.count === this.limit) {
      evicted = this.shift();
      this.dropped++;
    }
    this.slots[(this.head + this.count) % this.limit] = item;
    this.count++;
    return evicted;
  }

  /** Removes and returns every entry, oldest first. */
  drain(): T[] {
    const items: T[] = [];
    while (this.count > 0) items.push(this.shift() as T);
    return items;
  }

  private shift(): T | undefined {
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.limit;
    this.count--;
    return item;
  }
}
