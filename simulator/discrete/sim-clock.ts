/**
 * A simulated clock and its event queue: a binary min-heap ordered by time, then by insertion, so
 * events at the same instant run in the order they were scheduled and a run is reproducible.
 */
import type { Clock } from '../../firmware-updates/token-bucket.js';

interface Entry<E> {
  at: number;
  seq: number;
  event: E;
}

export class SimClock<E> implements Clock {
  private heap: Entry<E>[] = [];
  private seq = 0;
  private time: number;

  constructor(start: number) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Schedules `event` at `at` (never in the past). */
  at(at: number, event: E): void {
    this.push({ at: Math.max(at, this.time), seq: this.seq++, event });
  }

  after(ms: number, event: E): void {
    this.at(this.time + ms, event);
  }

  get size(): number {
    return this.heap.length;
  }

  /** Advances the clock to the next event and returns it; undefined when none is left. */
  next(): E | undefined {
    const top = this.heap[0];
    if (!top) return undefined;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    this.time = top.at;
    return top.event;
  }

  private less(a: Entry<E>, b: Entry<E>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(entry: Entry<E>): void {
    const h = this.heap;
    h.push(entry);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
