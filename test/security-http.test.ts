/**
 * Security hardening of the admin API (issue 11): authentication before the body is read, depth
 * limits on free-form JSON (TooDeep, never a 500), and request timeouts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequestRaw } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { customJob, jobsDevice } from './helpers/jobs.js';
import { randomImage } from './helpers/firmware.js';
import { ADMIN_TOKEN, nextMessage, startBaton, type TestBaton } from './helpers/service.js';

const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
};

/** JSON text nested `levels` deep (`{"a":1}` is 1). */
const deepText = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
/** The same as a value. */
const deepValue = (levels: number): Record<string, unknown> => JSON.parse(deepText(levels));

/** A request without an Authorization header (or with `token`), body sent as given. */
async function call(baton: TestBaton, method: string, path: string, body?: string, token?: string, contentType = 'application/json') {
  const res = await fetch(`${baton.httpUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': contentType }) },
    body,
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const newToken = async (baton: TestBaton, role: string) => (await baton.api('POST', '/api/v1/tokens', { name: role, role })).body.token as string;

/** Rejects if `promise` has not settled within `ms`. */
const within = <T>(ms: number, promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RawResponse {
  status: number;
  headers: string;
  body: any;
}

/**
 * A raw HTTP/1.1 exchange on its own socket, so a test controls exactly which bytes are sent and
 * when: `response` resolves once a complete response has arrived, `closed` when the server has
 * closed the connection.
 */
function rawExchange(baton: TestBaton): { socket: Socket; response: Promise<RawResponse>; closed: Promise<void>; send(text: string | Buffer): void } {
  const socket = netConnect(baton.httpPort, '127.0.0.1');
  socket.on('error', () => undefined); // a reset after the server closed is expected here
  let data = Buffer.alloc(0);
  const response = new Promise<RawResponse>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = text.slice(0, end);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      const bodyText = data.subarray(end + 4, end + 4 + length).toString('utf8');
      resolve({ status: Number(headers.slice(9, 12)), headers, body: bodyText ? JSON.parse(bodyText) : undefined });
    });
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, response, closed, send: (text) => void (socket.destroyed || socket.write(text)) };
}

const head = (method: string, path: string, headers: Record<string, string | number>) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

describe('authentication before the body is read', () => {
  it('answers an unauthenticated request with an invalid body 401, without schema details', async () => {
    const baton = await startBaton();
    const bodies = ['{"id":"a/b","tags":[1]}', '{"id": "broken', deepText(100_000)];
    for (const body of bodies) {
      for (const token of [undefined, 'not-a-valid-token-at-all-0123456789abcdef']) {
        const res = await call(baton, 'POST', '/api/v1/devices', body, token);
        expectProblem(res, 401, 'Unauthorized');
        expect(res.body.fields).toBeUndefined();
        expect(res.text).not.toContain('body.');
      }
    }
  });

  it('answers a role that may not use the route 403, whatever its body', async () => {
    const baton = await startBaton();
    const [viewer, operator] = [await newToken(baton, 'viewer'), await newToken(baton, 'operator')];
    await baton.createDevice('dev-1');
    const cases: Array<[string, string, string, string]> = [
      [viewer, 'POST', '/api/v1/devices', '{"id":"a/b","tags":[1]}'],
      [viewer, 'POST', '/api/v1/devices', '{"id": "broken'],
      [viewer, 'PATCH', '/api/v1/devices/dev-1', deepText(3000)],
      [viewer, 'POST', '/api/v1/jobs', '{"type":"nope"}'],
      [viewer, 'POST', '/api/v1/provisioning-templates', '{}'],
      // Before the change the shadow route's depth check (preValidation) answered first.
      [viewer, 'PATCH', '/api/v1/devices/dev-1/shadow', JSON.stringify({ state: { desired: deepValue(20) } })],
      [operator, 'POST', '/api/v1/tokens', '{"role":"superuser"}'],
      [operator, 'POST', '/api/v1/firmware/keys', '{}'],
    ];
    for (const [token, method, path, body] of cases) {
      const res = await call(baton, method, path, body, token);
      expect([method, path, res.status, res.body.code, res.body.fields]).toEqual([method, path, 403, 'Forbidden', undefined]);
    }
  });

  it('refuses every route that needs a token before reading the body; only the CA routes are public', async () => {
    const baton = await startBaton();
    const openapi = (await call(baton, 'GET', '/openapi.json')).body;
    const publicRoutes: string[] = [];
    let checked = 0;
    for (const [path, operations] of Object.entries<Record<string, any>>(openapi.paths)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const [method, operation] of Object.entries(operations)) {
        if (Array.isArray(operation.security) && operation.security.length === 0) {
          publicRoutes.push(`${method.toUpperCase()} ${path}`);
          continue;
        }
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const body = method === 'get' ? undefined : '{"not": json';
        const res = await call(baton, method.toUpperCase(), url, body);
        expect([method, path, res.status, res.body?.code]).toEqual([method, path, 401, 'Unauthorized']);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(40);
    // A new unauthenticated route is a security decision: add it here deliberately.
    expect(publicRoutes.sort()).toEqual(['GET /api/v1/ca', 'GET /api/v1/ca/crl']);
    for (const path of ['/healthz', '/metrics', '/openapi.json', '/docs', '/api/v1/ca', '/api/v1/ca/crl']) {
      expect([path, (await call(baton, 'GET', path)).status]).toEqual([path, 200]);
    }
  });

  it('answers 401/403 before a large body has been sent, and writes no byte of an unauthenticated upload', async () => {
    const baton = await startBaton();
    const viewer = await newToken(baton, 'viewer');
    const mib = 1024 * 1024;
    const cases: Array<[string, Record<string, string | number>, number]> = [
      ['/api/v1/devices', { 'Content-Type': 'application/json', 'Content-Length': mib }, 401],
      ['/api/v1/devices', { 'Content-Type': 'application/json', 'Content-Length': mib, Authorization: `Bearer ${viewer}` }, 403],
      // No version: before the change this was refused by its schema (400) first.
      ['/api/v1/firmware?deviceClass=gw', { 'Content-Type': 'application/octet-stream', 'Content-Length': 64 * mib }, 401],
      ['/api/v1/firmware?deviceClass=gw&version=1.0.0', { 'Content-Type': 'application/octet-stream', 'Content-Length': 64 * mib, Authorization: `Bearer ${viewer}` }, 403],
    ];
    for (const [path, headers, status] of cases) {
      const exchange = rawExchange(baton);
      exchange.send(head('POST', path, headers));
      exchange.send(Buffer.alloc(16 * 1024, '{'.charCodeAt(0)));
      // The rest of the body is never sent: the answer must not wait for it.
      const res = await within(3000, exchange.response, `POST ${path}`);
      expect([path, res.status, res.body.code]).toEqual([path, status, status === 401 ? 'Unauthorized' : 'Forbidden']);
      exchange.socket.destroy();
    }
    const firmwareDir = join(baton.dataDir, 'firmware');
    expect(existsSync(firmwareDir) ? readdirSync(firmwareDir, { recursive: true }) : []).toEqual([]);
  });
});

describe('depth limits on free-form JSON', () => {
  it('refuses attributes nested 3,000 and 100,000 levels with TooDeep (400), never a 500', async () => {
    const baton = await startBaton();
    await baton.createDevice('dev-1');
    for (const levels of [3000, 100_000]) {
      const attributes = deepText(levels);
      const cases: Array<[string, string, string]> = [
        ['POST', '/api/v1/devices', `{"id":"deep","attributes":${attributes}}`],
        ['PATCH', '/api/v1/devices/dev-1', `{"attributes":${attributes}}`],
        ['POST', '/api/v1/provisioning-templates', `{"name":"deep","attributes":${attributes}}`],
        ['POST', '/api/v1/jobs', `{"type":"custom","targets":{"devices":["dev-1"]},"document":${attributes}}`],
        ['POST', '/api/v1/sites', attributes],
      ];
      // The shadow route's body limit (128 KiB) refuses 100,000 levels by size first.
      if (levels < 10_000) cases.push(['PATCH', '/api/v1/devices/dev-1/shadow', `{"state":{"desired":${attributes}}}`]);
      for (const [method, path, body] of cases) {
        const res = await baton.api(method, path, body);
        expect([levels, method, path, res.status, res.body.code]).toEqual([levels, method, path, 400, 'TooDeep']);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
    }
    expectProblem(await baton.api('GET', '/api/v1/devices/deep'), 404, 'NotFound');
    expect((await baton.api('GET', '/api/v1/devices/dev-1')).body.attributes).toEqual({});
    expect((await baton.api('GET', '/api/v1/provisioning-templates')).body.items).toEqual([]);
  });

  it('lets free-form objects nest 16 levels and refuses 17 with TooDeep, naming the field', async () => {
    const baton = await startBaton();
    expect((await baton.api('POST', '/api/v1/devices', { id: 'dev-1', attributes: deepValue(16) })).status).toBe(201);
    const cases: Array<[string, string, object, string]> = [
      ['POST', '/api/v1/devices', { id: 'dev-2', attributes: deepValue(17) }, 'body.attributes'],
      ['PATCH', '/api/v1/devices/dev-1', { attributes: deepValue(17) }, 'body.attributes'],
      ['POST', '/api/v1/provisioning-templates', { name: 'tpl', attributes: deepValue(17) }, 'body.attributes'],
      ['POST', '/api/v1/jobs', { id: 'job-c', type: 'custom', targets: { devices: ['dev-1'] }, document: deepValue(17) }, 'body.document'],
      ['POST', '/api/v1/jobs', { id: 'job-k', type: 'config', targets: { devices: ['dev-1'] }, config: deepValue(17) }, 'body.config'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await baton.api(method, path, body);
      expectProblem(res, 400, 'TooDeep');
      expect(Object.keys(res.body.fields)).toEqual([field]);
    }
    expect((await baton.api('GET', '/api/v1/devices/dev-1')).body.attributes).toEqual(deepValue(16));
    expect((await baton.api('POST', '/api/v1/jobs', { id: 'job-ok', type: 'custom', targets: { devices: ['dev-1'] }, document: deepValue(16) })).status).toBe(201);
  });

  it('refuses a fleet query value nested thousands of levels with TooDeep, not a 500', async () => {
    const baton = await startBaton();
    const value = `${'['.repeat(8000)}${']'.repeat(8000)}`;
    expectProblem(await baton.api('GET', `/api/v1/devices?reported.fw=${value}`), 400, 'TooDeep');
  });

  it('drops deep telemetry with TooDeep, so reading it back is never a 500', async () => {
    const baton = await startBaton();
    const device = await baton.connectDevice(await baton.createDevice('dev-1'));
    await device.subscribeAsync('devices/dev-1/errors', { qos: 1 });
    const error = nextMessage(device, (t) => t === 'devices/dev-1/errors');
    await device.publishAsync('devices/dev-1/telemetry', `{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}`, { qos: 1 });
    expect((await error).json).toMatchObject({ code: 'TooDeep', topic: 'devices/dev-1/telemetry' });
    await device.publishAsync('devices/dev-1/telemetry', JSON.stringify({ nested: deepValue(15) }), { qos: 1 });
    const read = await baton.api('GET', '/api/v1/devices/dev-1/telemetry');
    expect(read.status).toBe(200);
    expect(read.body.items.map((r: any) => r.data)).toEqual([{ nested: deepValue(15) }]);
  });

  it('rejects a job execution update whose statusDetails nest too deep with TooDeep', async () => {
    const baton = await startBaton();
    const device = await jobsDevice(baton, 'dev-1');
    await customJob(baton, 'job-1', ['dev-1']);
    await device.notified(1);
    const deep = await device.request('job-1/update', { status: 'IN_PROGRESS', statusDetails: deepValue(17) });
    expect(deep).toMatchObject({ outcome: 'rejected', body: { code: 'TooDeep', clientToken: expect.stringMatching(/^t-/) } });
    // Deeper than z.json() could recurse through comfortably, still within the 8 KiB request limit.
    const deeper = await device.request('job-1/update', { status: 'IN_PROGRESS', statusDetails: { a: JSON.parse(`${'['.repeat(3000)}${']'.repeat(3000)}`) } });
    expect(deeper.body.code).toBe('TooDeep');
    const ok = await device.request('job-1/update', { status: 'IN_PROGRESS', statusDetails: deepValue(16) });
    expect(ok.outcome).toBe('accepted');
  });
});

describe('timeouts', () => {
  it('cuts off a body that does not arrive within the request timeout; an authenticated firmware upload is bounded by the idle timeout instead', async () => {
    const baton = await startBaton({}, { httpTimeouts: { requestTimeoutMs: 400, idleTimeoutMs: 1500 } });

    // A JSON body trickling in, a byte every 100 ms: cut off at 400 ms with a 408 problem.
    const slow = rawExchange(baton);
    const started = Date.now();
    slow.send(head('POST', '/api/v1/devices', { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': 1000 }));
    const trickle = setInterval(() => slow.send(' '), 100);
    try {
      const res = await within(3000, slow.response, 'slow JSON body');
      expect([res.status, res.body.code]).toEqual([408, 'RequestTimeout']);
      expect(res.headers).toMatch(/content-type: application\/problem\+json/i);
      await within(1000, slow.closed, 'close after 408');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      clearInterval(trickle);
    }

    // An unauthenticated upload is answered at once, and its connection closed at the deadline.
    const stranger = rawExchange(baton);
    stranger.send(head('POST', '/api/v1/firmware?deviceClass=gw&version=1.0.0', { 'Content-Type': 'application/octet-stream', 'Content-Length': 1_000_000 }));
    const strangerTrickle = setInterval(() => stranger.send(Buffer.alloc(100)), 100);
    try {
      expect((await within(1000, stranger.response, 'unauthenticated upload')).status).toBe(401);
      await within(2000, stranger.closed, 'unauthenticated upload cut off');
    } finally {
      clearInterval(strangerTrickle);
    }

    // An authenticated upload slower than the request timeout completes...
    const image = randomImage(20_000);
    const upload = rawExchange(baton);
    upload.send(head('POST', '/api/v1/firmware?deviceClass=gw&version=1.0.0', {
      Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/octet-stream', 'Content-Length': image.length,
    }));
    for (let offset = 0; offset < image.length; offset += 2000) {
      await sleep(100); // 1 s in all, well past the 400 ms request timeout
      upload.send(image.subarray(offset, offset + 2000));
    }
    const uploaded = await within(3000, upload.response, 'slow upload');
    expect([uploaded.status, uploaded.body.size]).toEqual([201, 20_000]);
    upload.socket.destroy();

    // ...but one that stalls for longer than the idle timeout is dropped.
    const stalled = rawExchange(baton);
    stalled.send(head('POST', '/api/v1/firmware?deviceClass=gw&version=2.0.0', {
      Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/octet-stream', 'Content-Length': image.length,
    }));
    stalled.send(image.subarray(0, 1000));
    await within(4000, stalled.closed, 'stalled upload dropped');
    expect((await baton.api('GET', '/api/v1/firmware')).body.items.map((f: any) => f.version)).toEqual(['1.0.0']);

    // MQTT over WebSocket shares the server, and none of this applies to it once upgraded.
    const ws = await baton.connect({ url: baton.wsUrl, clientId: 'int', username: 'api', password: ADMIN_TOKEN, keepalive: 0 });
    await sleep(2000);
    expect(ws.connected).toBe(true);
    await ws.subscribeAsync('fleet/events/#', { qos: 1 });
  });

  it('does not let a request in flight at shutdown hold it open for the keep-alive timeout (72 s)', async () => {
    const baton = await startBaton();
    // A request whose body is still arriving when the service stops...
    const inFlight = rawExchange(baton);
    const body = JSON.stringify({ id: 'dev-1' });
    inFlight.send(head('POST', '/api/v1/devices', { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': body.length }));
    inFlight.send(body.slice(0, 5));
    // ...and one answered early (401) whose large body is still being sent.
    const early = rawExchange(baton);
    early.send(head('POST', '/api/v1/devices', { 'Content-Type': 'application/json', 'Content-Length': 1024 * 1024 }));
    early.send(Buffer.alloc(1000, 0x20));
    expect((await within(2000, early.response, 'early 401')).status).toBe(401);

    const started = Date.now();
    const stopping = baton.stop();
    await sleep(200);
    inFlight.send(body.slice(5));
    expect((await within(3000, inFlight.response, 'in-flight request')).status).toBe(201);
    await within(5000, stopping, 'shutdown');
    expect(Date.now() - started).toBeLessThan(5000);
    await within(1000, Promise.all([inFlight.closed, early.closed]), 'connections closed');
  });

  it('cuts off request headers that do not arrive in time with a 408 problem', async () => {
    const baton = await startBaton({}, { httpTimeouts: { headersTimeoutMs: 300 } });
    const slow = rawExchange(baton);
    slow.send(`GET /api/v1/devices HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const trickle = setInterval(() => slow.send('X-Slow: 1\r\n'), 100);
    try {
      const res = await within(3000, slow.response, 'slow headers');
      expect([res.status, res.body.code]).toEqual([408, 'RequestTimeout']);
      await within(1000, slow.closed, 'close after 408');
    } finally {
      clearInterval(trickle);
    }
  });
});

describe('fuzz findings', () => {
  /** One request on `agent` (node:http); resolves with status and parsed body, rejects after `ms`. */
  const httpRequest = (baton: TestBaton, agent: HttpAgent, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}, ms = 5000) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: any }>((resolve, reject) => {
      const req = httpRequestRaw({
        host: '127.0.0.1', port: baton.httpPort, method, path, agent,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-length': String(body.length) } : {}), ...headers },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined });
        });
      });
      const timer = setTimeout(() => { req.destroy(); reject(new Error(`${method} ${path}: no answer within ${ms} ms`)); }, ms);
      req.on('error', (err) => { clearTimeout(timer); reject(err); });
      req.end(body);
    });

  it('F3: answers router errors (bad percent-encoding, over-long path parameter) as problem+json with a stable code', async () => {
    const baton = await startBaton();
    expectProblem(await call(baton, 'GET', '/api/v1/jobs/%zz', undefined, ADMIN_TOKEN), 400, 'InvalidRequest');
    expectProblem(await call(baton, 'GET', '/api/v1/devices/%E0%A4%A', undefined, ADMIN_TOKEN), 400, 'InvalidRequest');
    // Longer than any id the API allows (256): no such resource can exist.
    const tooLong = await call(baton, 'GET', `/api/v1/devices/${'a'.repeat(257)}`, undefined, ADMIN_TOKEN);
    expectProblem(tooLong, 404, 'NotFound');
    expect(tooLong.text).not.toContain('FST_ERR');
  });

  it('F4: reaches devices whose ids are 101–128 characters long', async () => {
    const baton = await startBaton();
    for (const id of [`d${'x'.repeat(100)}`, `d:${'A-_.9'.repeat(25)}x`]) {
      expect(id.length).toBeGreaterThan(100);
      expect(id.length).toBeLessThanOrEqual(128);
      await baton.createDevice(id);
      const path = `/api/v1/devices/${encodeURIComponent(id)}`;
      const got = await baton.api('GET', path);
      expect([got.status, got.body.id]).toEqual([200, id]);
      expect((await baton.api('PATCH', path, { tags: ['long'] })).status).toBe(200);
      expect((await baton.api('DELETE', path)).status).toBe(204);
      expectProblem(await call(baton, 'GET', path, undefined, ADMIN_TOKEN), 404, 'NotFound');
    }
    // An id of 256 characters (the longest idParams allows) reaches the route: NotFound from it, not from the router.
    const missing = await call(baton, 'GET', `/api/v1/jobs/${'j'.repeat(256)}`, undefined, ADMIN_TOKEN);
    expectProblem(missing, 404, 'NotFound');
    expect(missing.body.detail).not.toMatch(/longer than any id/);
  });

  it('F1: a claim certificate issued while its template is deleted is 201 or 404, never a 500', async () => {
    const baton = await startBaton();
    // Delays spread over the claim's ~10–40 ms: some deletes land between the route's existence
    // check and the claim's INSERT (that was a FOREIGN KEY failure, a 500).
    for (let i = 0; i < 12; i++) {
      expect((await baton.api('POST', '/api/v1/provisioning-templates', { name: 'racy' })).status).toBe(201);
      const claim = baton.api('POST', '/api/v1/provisioning-templates/racy/claim', { kind: 'certificate' });
      await sleep(i * 3);
      const deleted = await baton.api('DELETE', '/api/v1/provisioning-templates/racy');
      const claimed = await claim;
      expect([201, 404]).toContain(claimed.status);
      if (claimed.status === 404) expect(claimed.body.code).toBe('NotFound');
      expect(deleted.status).toBe(204);
    }
  });

  it('caps the fields of a 400 problem: 50,000 unknown keys answer a small problem', async () => {
    const baton = await startBaton();
    const body: Record<string, unknown> = { id: 'dev-1' };
    for (let i = 0; i < 50_000; i++) body[`k${i}`] = 1;
    const res = await call(baton, 'POST', '/api/v1/devices', JSON.stringify(body), ADMIN_TOKEN);
    expectProblem(res, 400, 'InvalidRequest');
    expect(res.text.length).toBeLessThan(16_000);
    expect(Object.keys(res.body.fields).length).toBeLessThanOrEqual(100);
    expect(JSON.stringify(res.body.fields)).toContain('50000');
  });

  it('F2: answers the next request on a keep-alive connection after a rejected 300 KB firmware upload', async () => {
    const baton = await startBaton();
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const rejected = await httpRequest(baton, agent, 'POST', '/api/v1/firmware?version=x', Buffer.alloc(300_000),
          { 'content-type': 'application/octet-stream' });
        expect([rejected.status, rejected.body.code]).toEqual([400, 'InvalidRequest']);
        const next = await httpRequest(baton, agent, 'GET', '/api/v1/firmware/keys');
        expect(next.status).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });
});
