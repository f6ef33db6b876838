import { describe, expect, it } from 'vitest';
import { OfflineQueue } from './offline-queue.js';

describe('OfflineQueue', () => {
  it('keeps entries in order under the limit', () => {
    const q = new OfflineQueue<number>(3);
    expect([q.push(1), q.push(2)]).toEqual([undefined, undefined]);
    expect(q.size).toBe(2);
    expect(q.drain()).toEqual([1, 2]);
    expect(q.size).toBe(0);
  });

  it('drops the oldest when full, returns it and counts it', () => {
    const q = new OfflineQueue<number>(3);
    const evicted = [1, 2, 3, 4, 5].map((n) => q.push(n));
    expect(evicted).toEqual([undefined, undefined, undefined, 1, 2]);
    expect(q.dropped).toBe(2);
    expect(q.drain()).toEqual([3, 4, 5]);
  });

  it('stays in order across wrap-around and repeated drains', () => {
    const q = new OfflineQueue<number>(2);
    for (let n = 1; n <= 7; n++) q.push(n);
    expect(q.drain()).toEqual([6, 7]);
    q.push(8);
    expect(q.drain()).toEqual([8]);
    expect(q.dropped).toBe(5);
  });

  it('with limit 0 drops every entry at once', () => {
    const q = new OfflineQueue<string>(0);
    expect(q.push('a')).toBe('a');
    expect(q.size).toBe(0);
    expect(q.dropped).toBe(1);
  });

  it.each([-1, 1.5, Number.NaN])('refuses limit %f', (limit) => {
    expect(() => new OfflineQueue(limit)).toThrow(RangeError);
  });
});
