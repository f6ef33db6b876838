import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { filterMatches } from './protocol/topic-filter.js';
import { Requests, type RequestLink } from './requests.js';
import type { TopicHandler } from './subscriptions.js';
import { ManualClock } from './test-fixtures.js';

const T = 'devices/d1/jobs/get';

/** An in-memory link: records what is published and lets the test deliver replies. */
function fakeLink(online = true) {
  const handlers = new Map<string, TopicHandler>();
  const published: Array<{ topic: string; body: Record<string, unknown> }> = [];
  const link: RequestLink = {
    online: () => online,
    onTopic: async (filter, handler) => void handlers.set(filter, handler),
    publish: async (topic, payload) => void published.push({ topic, body: JSON.parse(payload) }),
  };
  const reply = (topic: string, body: unknown) => {
    for (const [filter, handler] of handlers) if (filterMatches(filter, topic)) handler({ topic, payload: Buffer.from(JSON.stringify(body)) });
  };
  return { link, published, reply, handlers };
}

function setup(online = true) {
  const clock = new ManualClock();
  let n = 0;
  const fake = fakeLink(online);
  const requests = new Requests(fake.link, { clock, newToken: () => `tok-${++n}`, defaultTimeoutMs: 5000 });
  return { ...fake, clock, requests };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Requests', () => {
  it('subscribes to both replies, publishes with a clientToken and resolves with the accepted reply', async () => {
    const { requests, published, reply, handlers, clock } = setup();
    const result = requests.request(T, { a: 1 });
    await tick();
    expect([...handlers.keys()]).toEqual(['devices/d1/jobs/+/accepted', 'devices/d1/jobs/+/rejected']);
    expect(published).toEqual([{ topic: T, body: { a: 1, clientToken: 'tok-1' } }]);
    reply(`${T}/accepted`, { clientToken: 'tok-1', execution: null });
    await expect(result).resolves.toEqual({ clientToken: 'tok-1', execution: null });
    expect(clock.pending).toBe(0);
  });

  it('keeps a clientToken the caller chose', async () => {
    const { requests, published, reply } = setup();
    const result = requests.request(T, { clientToken: 'mine' });
    await tick();
    expect(published[0]!.body).toEqual({ clientToken: 'mine' });
    reply(`${T}/accepted`, { clientToken: 'mine' });
    await expect(result).resolves.toEqual({ clientToken: 'mine' });
  });

  it('rejects with the protocol code of a rejected reply', async () => {
    const { requests, reply } = setup();
    const result = requests.request(T, {});
    await tick();
    reply(`${T}/rejected`, { clientToken: 'tok-1', code: 'VersionConflict', message: 'version 3 expected', timestamp: 1 });
    await expect(result).rejects.toMatchObject({ name: 'BatonError', code: 'VersionConflict', message: 'version 3 expected' });
  });

  it('maps an unknown rejection code to InternalError', async () => {
    const { requests, reply } = setup();
    const result = requests.request(T, {});
    await tick();
    reply(`${T}/rejected`, { clientToken: 'tok-1', code: 'Martian' });
    await expect(result).rejects.toMatchObject({ code: 'InternalError', details: { reply: { code: 'Martian' } } });
  });

  it('matches replies by token, so concurrent requests get their own replies', async () => {
    const { requests, reply } = setup();
    const first = requests.request(T, {});
    const second = requests.request(T, {});
    await tick();
    reply(`${T}/accepted`, { clientToken: 'someone-else' });
    reply(`${T}/accepted`, { clientToken: 'tok-2', n: 2 });
    reply(`${T}/rejected`, { clientToken: 'tok-1', code: 'NotFound', message: 'no job' });
    reply(`${T}/accepted`, { clientToken: 'tok-1', n: 1 }); // late duplicate: ignored
    await expect(second).resolves.toEqual({ clientToken: 'tok-2', n: 2 });
    await expect(first).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('ignores a reply with its token on another request topic', async () => {
    const { requests, reply, clock } = setup();
    const result = requests.request(T, {});
    const other = requests.request('devices/d1/jobs/start-next', {}, { timeoutMs: 10 });
    await tick();
    reply('devices/d1/jobs/start-next/accepted', { clientToken: 'tok-1' });
    clock.advance(5000);
    await expect(result).rejects.toMatchObject({ code: 'Unavailable', details: { reason: 'timeout', timeoutMs: 5000 } });
    await expect(other).rejects.toMatchObject({ code: 'Unavailable', details: { reason: 'timeout', timeoutMs: 10 } });
  });

  it('subscribes one pair of covering filters per feature and depth, not one per job id or shadow name', async () => {
    const { requests, handlers } = setup();
    for (let i = 0; i < 50; i++) {
      void requests.request(`devices/d1/jobs/job-${i}/get`, {}).catch(() => undefined);
      void requests.request(`devices/d1/jobs/job-${i}/update`, {}).catch(() => undefined);
      void requests.request(`devices/d1/shadow/name/s${i}/update`, {}).catch(() => undefined);
    }
    void requests.request('devices/d1/shadow/get', {}).catch(() => undefined);
    void requests.request('devices/d1/jobs/start-next', {}).catch(() => undefined);
    await tick();
    expect([...handlers.keys()].sort()).toEqual([
      'devices/d1/jobs/+/+/accepted',
      'devices/d1/jobs/+/+/rejected',
      'devices/d1/jobs/+/accepted',
      'devices/d1/jobs/+/rejected',
      'devices/d1/shadow/+/accepted',
      'devices/d1/shadow/+/rejected',
      'devices/d1/shadow/name/+/+/accepted',
      'devices/d1/shadow/name/+/+/rejected',
    ]);
    requests.failAll(new Error('closed'));
  });

  it('routes replies on a shared filter by topic and token', async () => {
    const { requests, reply } = setup();
    const j1 = requests.request('devices/d1/jobs/j1/update', {});
    const j2 = requests.request('devices/d1/jobs/j2/update', {});
    const getJ1 = requests.request('devices/d1/jobs/j1/get', {});
    await tick();
    reply('devices/d1/jobs/j2/update/accepted', { clientToken: 'tok-1' }); // j1's token on j2's topic: not j1's reply
    reply('devices/d1/jobs/j2/update/accepted', { clientToken: 'tok-2', n: 2 });
    reply('devices/d1/jobs/j1/get/rejected', { clientToken: 'tok-3', code: 'NotFound', message: 'no job' });
    reply('devices/d1/jobs/j1/update/accepted', { clientToken: 'tok-1', n: 1 });
    await expect(j1).resolves.toEqual({ clientToken: 'tok-1', n: 1 });
    await expect(j2).resolves.toEqual({ clientToken: 'tok-2', n: 2 });
    await expect(getJ1).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('subscribes the exact reply topics of a topic outside the protocol', async () => {
    const { requests, handlers, reply } = setup();
    const result = requests.request('vendor/x/op', {});
    await tick();
    expect([...handlers.keys()]).toEqual(['vendor/x/op/accepted', 'vendor/x/op/rejected']);
    reply('vendor/x/op/accepted', { clientToken: 'tok-1' });
    await expect(result).resolves.toEqual({ clientToken: 'tok-1' });
  });

  it('times out with Unavailable on the injected clock', async () => {
    const { requests, clock } = setup();
    const result = requests.request(T, {}, { timeoutMs: 250 });
    clock.advance(249);
    await tick();
    clock.advance(1);
    await expect(result).rejects.toMatchObject({ code: 'Unavailable', details: { topic: T, reason: 'timeout' } });
    expect(clock.pending).toBe(0);
  });

  it('fails the oldest pending request on a topic the broker reports as dropped', async () => {
    const { requests } = setup();
    const first = requests.request(T, {});
    const second = requests.request(T, {});
    requests.onDeviceError({ code: 'PayloadTooLarge', message: 'too big', topic: T, timestamp: new Date(0).toISOString() });
    await expect(first).rejects.toMatchObject({ code: 'PayloadTooLarge', details: { source: 'errors' } });
    requests.failAll(new Error('closed'));
    await expect(second).rejects.toThrow('closed');
  });

  it('validates the accepted reply with a schema', async () => {
    const { requests, reply } = setup();
    const schema = z.object({ clientToken: z.string(), version: z.int() });
    const good = requests.request(T, {}, { schema });
    const bad = requests.request(T, {}, { schema });
    await tick();
    reply(`${T}/accepted`, { clientToken: 'tok-1', version: 4 });
    reply(`${T}/accepted`, { clientToken: 'tok-2', version: 'four' });
    await expect(good).resolves.toEqual({ clientToken: 'tok-1', version: 4 });
    await expect(bad).rejects.toMatchObject({ code: 'InternalError', details: { fields: { version: expect.any(String) } } });
  });

  it('fails at once when offline, without publishing', async () => {
    const { requests, published, clock } = setup(false);
    await expect(requests.request(T, {})).rejects.toMatchObject({ code: 'Unavailable', details: { reason: 'offline' } });
    expect(published).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});
