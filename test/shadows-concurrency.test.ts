import { describe, expect, it } from 'vitest';
import { topics } from '../device-sdk/protocol/topics.js';
import { collect, shadowDevice } from './helpers/shadows.js';
import { eventually, startBaton } from './helpers/service.js';

describe('concurrent shadow updates', () => {
  it('serializes 200 updates from MQTT and REST: gap-free versions, final version = accepted count, no key lost', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    // update/accepted and update/rejected, by clientToken.
    const replies = new Map<string, (reply: { topic: string; json: any }) => void>();
    dev.client.on('message', (topic, payload) => {
      const json = JSON.parse(payload.toString());
      if (/\/update\/(accepted|rejected)$/.test(topic)) replies.get(json.clientToken)?.({ topic, json });
    });
    const N = 200;
    // Every 10th request expects a version it guesses (its own index): some win, most conflict.
    const guess = (i: number) => (i % 10 === 0 ? { version: i / 2 } : {});

    const outcomes = await Promise.all(
      Array.from({ length: N }, async (_, i): Promise<{ key: string; side: string; version?: number; code?: string }> => {
        if (i % 2 === 0) {
          const key = `m${i}`;
          const replied = new Promise<{ topic: string; json: any }>((resolve) => replies.set(key, resolve));
          dev.client.publish(topics.shadow('dev-1', undefined, 'update'), JSON.stringify({ state: { reported: { [key]: i } }, clientToken: key, ...guess(i) }), { qos: 1 });
          const reply = await replied;
          return reply.topic.endsWith('/accepted') ? { key, side: 'reported', version: reply.json.version } : { key, side: 'reported', code: reply.json.code };
        }
        const key = `r${i}`;
        const res = await baton.api('PATCH', '/api/v1/devices/dev-1/shadow', { state: { desired: { [key]: i } }, ...guess(i) });
        return res.status === 200 ? { key, side: 'desired', version: res.body.version } : { key, side: 'desired', code: res.body.code };
      }),
    );

    const accepted = outcomes.filter((o) => o.version !== undefined);
    const rejected = outcomes.filter((o) => o.code !== undefined);
    expect(new Set(rejected.map((o) => o.code))).toEqual(rejected.length > 0 ? new Set(['VersionConflict']) : new Set());
    expect(accepted.length + rejected.length).toBe(N);
    expect(accepted.length).toBeGreaterThanOrEqual(N - N / 10);
    // Each accepted update got its own version, and together they are exactly 1..accepted.
    expect(accepted.map((o) => o.version).sort((a, b) => a! - b!)).toEqual(Array.from({ length: accepted.length }, (_, i) => i + 1));

    const doc = (await baton.api('GET', '/api/v1/devices/dev-1/shadow')).body;
    expect(doc.version).toBe(accepted.length);
    const keys = (side: string) => accepted.filter((o) => o.side === side).map((o) => o.key).sort();
    expect(Object.keys(doc.state.reported).sort()).toEqual(keys('reported'));
    expect(Object.keys(doc.state.desired).sort()).toEqual(keys('desired'));
  });

  it('publishes the deltas of interleaved updates in version order', async () => {
    const baton = await startBaton();
    const dev = await shadowDevice(baton, 'dev-1');
    const deltas = collect(dev.client, (t) => t.endsWith('/update/delta'));
    await Promise.all(Array.from({ length: 30 }, (_, i) => baton.api('PATCH', '/api/v1/devices/dev-1/shadow', { state: { desired: { [`k${i}`]: i } } })));
    await eventually(() => (deltas.length === 30 ? true : undefined));
    expect(deltas.map((d) => d.json.version)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});
