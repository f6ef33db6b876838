/**
 * The REST fuzz campaign: requests generated from GET /openapi.json (rest-requests.ts) against a
 * child broker, in batches, with /healthz checked after every batch.
 *
 * A response fails when it is a 5xx (other than a 503 problem), when an error (≥ 400) is not
 * `application/problem+json` with a string `code` and the response's status, or when no response
 * comes (reset or 30 s timeout) for a body the server could have read. Failures are collected, not
 * thrown, so one run lists every distinct finding; each is reduced to a small reproduction and
 * printed as a curl command. The broker exiting or /healthz failing ends the run (fatal).
 */
import { generateKeyPairSync } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { createDeviceKeyAndCsr } from '../../device-sdk/csr.js';
import { ADMIN_TOKEN } from '../helpers/service.js';
import { fromValue, toText, type J } from './hostile.js';
import { batchArb, operations, renderBody, renderPath, type OpenApiDoc, type Operation, type Refs, type RestRequest } from './rest-requests.js';
import { log, replayHint, type FuzzSettings } from './settings.js';
import { type Target, withTarget } from './target.js';

export interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

export interface Received {
  /** The client's local port (which keep-alive connection carried it), for FUZZ_TRACE. */
  via?: number;
  status: number;
  contentType: string;
  body: string;
  /** Set when no response came: the client error, or 'timeout'. */
  error?: string;
}

export interface RestFinding {
  /** e.g. `500 InternalError`, `error-not-problem+json 431`, `no-response ECONNRESET` */
  kind: string;
  /** The operation of the example, and every operation it occurred on. */
  op: string;
  ops: string[];
  count: number;
  /** fast-check path of the first batch it occurred in. */
  path: string;
  example: { request: string; status: number; contentType: string; body: string; previousOnConnection?: string };
  /** The example reduced (fewer headers, query parameters and body fields) while it still fails the same way. */
  reduced?: string;
  /** Error-level log lines of the broker while the example ran (e.g. the stack behind a 500). */
  logs: string[];
}

export interface RestStats {
  seed: number;
  batches: number;
  requests: number;
  operations: number;
  byStatus: Record<string, number>;
  fiveHundreds: number;
  violations: number;
  noResponse: number;
  crashes: number;
  healthFailures: number;
  /** The largest error response (an error that echoes its input back is an amplifier). */
  largestErrorBody: { bytes: number; op: string; requestBytes: number };
  durationS: number;
}

export interface RestResult {
  stats: RestStats;
  findings: RestFinding[];
  fatal: string | undefined;
  reportFile: string;
}

const BATCH = 25;
const CONCURRENCY = 4;
const BODY_LIMIT = 1024 * 1024;

async function setUp(target: Target): Promise<{ refs: Refs; tokens: Record<string, string> }> {
  const api = async (method: string, path: string, body?: unknown, expect = [200, 201]) => {
    const res = await target.api(method, path, body);
    if (!expect.includes(res.status)) throw new Error(`set-up ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const tokens: Record<string, string> = { admin: ADMIN_TOKEN };
  for (const role of ['operator', 'viewer', 'integration']) tokens[role] = (await api('POST', '/api/v1/tokens', { name: `fuzz-${role}`, role })).token;
  const revoked = await api('POST', '/api/v1/tokens', { name: 'fuzz-revoked', role: 'admin' });
  await api('DELETE', `/api/v1/tokens/${revoked.id}`, undefined, [200, 204]);
  tokens.revoked = revoked.token;
  const spare0 = await api('POST', '/api/v1/tokens', { name: 'fuzz-spare-0', role: 'viewer' });
  const spare1 = await api('POST', '/api/v1/tokens', { name: 'fuzz-spare-1', role: 'operator' });
  for (const id of ['fz-site-0', 'fz-site-1']) await api('POST', '/api/v1/sites', { id, uplinkBytesPerSec: 125_000, timeZone: 'UTC' });
  for (let i = 0; i < 4; i++) await api('POST', '/api/v1/devices', { id: `fz-dev-${i}`, deviceClass: 'fz', site: 'fz-site-0', tags: ['fz'] });
  const image = await fetch(`http://127.0.0.1:${target.ports.http}/api/v1/firmware?deviceClass=fz&version=1.0.0&chunkSize=256`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(4096, 7),
  });
  if (image.status !== 201) throw new Error(`set-up firmware: ${image.status} ${await image.text()}`);
  const fw = ((await image.json()) as { id: string }).id;
  const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const key = await api('POST', '/api/v1/firmware/keys', { publicKeyPem: publicKey });
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await api('POST', '/api/v1/jobs', { id: 'fz-job', type: 'firmware', firmwareId: fw, targets: { tags: ['fz'] } });
  await api('POST', '/api/v1/provisioning-templates', { name: 'fz-tpl', deviceClasses: ['fz'] });
  const claim = await api('POST', '/api/v1/provisioning-templates/fz-tpl/claim', { kind: 'token' });
  const cert = await api('POST', '/api/v1/devices/fz-dev-0/certificates', { generateKey: true });
  await api('PATCH', '/api/v1/devices/fz-dev-0/shadow', { state: { desired: { a: 1 } } });
  const { csrPem } = await createDeviceKeyAndCsr('fz-dev-0');
  return {
    tokens,
    refs: {
      admin: ADMIN_TOKEN, fw, publicKey: otherKey, keyId: key.keyId ?? key.id, claimId: claim.id, serial: cert.serial, csr: csrPem,
      tokenSpare0: spare0.id, tokenSpare1: spare1.id,
    },
  };
}

function authHeader(r: RestRequest, tokens: Record<string, string>, refs: Refs): string | undefined {
  if (r.auth === 'none') return undefined;
  if (r.auth === 'malformed') return r.malformedAuth.replaceAll('@@admin@@', refs.admin!);
  return `Bearer ${tokens[r.auth]}`;
}

export function render(ops: Map<string, Operation>, r: RestRequest, tokens: Record<string, string>, refs: Refs): Sent {
  const op = ops.get(r.op)!;
  const headers: Record<string, string> = {};
  const auth = authHeader(r, tokens, refs);
  if (auth !== undefined) headers.authorization = auth;
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  for (const [k, v] of r.headers) headers[k] = v;
  return { method: r.method, path: renderPath(op, r, refs), headers, body: r.method === 'GET' || r.method === 'HEAD' ? undefined : renderBody(r.body, refs) };
}

export function send(port: number, agent: Agent, s: Sent, timeoutMs = 30_000): Promise<Received> {
  return new Promise((resolve) => {
    let done = false;
    let via: number | undefined;
    const finish = (r: Received) => {
      if (done) return;
      done = true;
      resolve({ ...r, via });
    };
    // Node frames a body of GET/DELETE/OPTIONS/… by nothing unless told: say its length, or the
    // server rightly reads the body as the next request on the connection
    const framed = s.body !== undefined && !Object.keys(s.headers).some((k) => k.toLowerCase() === 'transfer-encoding')
      ? { ...s.headers, 'content-length': String(s.body.length) }
      : s.headers;
    let req;
    try {
      req = request({ host: '127.0.0.1', port, method: s.method, path: s.path, headers: framed, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 4 * 1024 * 1024) chunks.push(c);
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }));
        res.on('error', (e) => finish({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: '', error: e.message }));
      });
    } catch (e) {
      // the HTTP client refused the request itself (e.g. a header value it does not allow): not sent
      return finish({ status: -1, contentType: '', body: '', error: `client: ${(e as Error).message}` });
    }
    req.on('socket', (socket) => (via = socket.localPort ?? via));
    req.on('timeout', () => {
      req.destroy();
      finish({ status: 0, contentType: '', body: '', error: 'timeout' });
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ status: 0, contentType: '', body: '', error: e.code ?? e.message }));
    req.end(s.body);
  });
}

/** Why a response fails the campaign, or undefined if it does not. */
export function judge(s: Sent, r: Received): string | undefined {
  if (r.status === -1) return undefined; // never sent
  if (r.error) {
    // a server may close on a body it will not read (over the limit) before the client has written it all
    if ((s.body?.length ?? 0) > BODY_LIMIT && r.error !== 'timeout') return undefined;
    // a request line Node cannot parse (over 16 KiB, raw non-ASCII) gets a bodied 400/431 and a
    // close, whatever its method: Node's client cannot read that as the answer to a HEAD
    if (s.method === 'HEAD' && r.error !== 'timeout' && (s.path.length > 16 * 1024 || /[^\x21-\x7e]/.test(s.path))) return undefined;
    return `no-response ${r.error}`;
  }
  if (r.status < 400) return undefined;
  const problem = r.contentType.startsWith('application/problem+json');
  if (r.status >= 500 && !(r.status === 503 && problem)) {
    let code = '';
    try {
      code = JSON.parse(r.body).code ?? '';
    } catch {
      // not JSON
    }
    return `${r.status} ${code}`.trim();
  }
  if (s.method === 'HEAD') return problem ? undefined : `error-not-problem+json ${r.status}`;
  if (!problem) return `error-not-problem+json ${r.status}`;
  let body: { code?: unknown; status?: unknown };
  try {
    body = JSON.parse(r.body);
  } catch {
    return `problem-not-json ${r.status}`;
  }
  if (typeof body.code !== 'string' || body.code === '') return `problem-without-code ${r.status}`;
  if (body.status !== r.status) return `problem-status-mismatch ${r.status}`;
  return undefined;
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * A curl command for `s` against `npm start`'s default port (the body inline when short, else
 * written next to the report; tokens as $ADMIN_TOKEN, $OPERATOR_TOKEN, …).
 */
export function curl(s: Sent, bodyFile: () => string, tokenNames: Map<string, string> = new Map()): string {
  const parts = ['curl', '-sS', '-i', '--path-as-is', '-X', s.method];
  const named = (v: string) => [...tokenNames].reduce((acc, [token, name]) => acc.replaceAll(token, `$${name}`), v);
  for (const [k, v] of Object.entries(s.headers)) {
    const line = `${k}: ${named(v)}`.slice(0, 400);
    // double quotes let the shell fill in $ADMIN_TOKEN and friends
    parts.push('-H', k === 'authorization' && line !== `${k}: ${v}`.slice(0, 400) ? `"${line.replace(/["\\`]/g, '\\$&')}"` : shellQuote(line));
  }
  if (s.body !== undefined) {
    const text = s.body.toString();
    if (s.body.length <= 600 && Buffer.from(text).equals(s.body) && !/[\x00-\x08\x0b-\x1f]/.test(text)) parts.push('--data-binary', shellQuote(text));
    else parts.push('--data-binary', `@${bodyFile()}`);
  }
  parts.push(shellQuote(`http://localhost:8080${s.path.length > 300 ? `${s.path.slice(0, 300)}…(${s.path.length} chars)` : s.path}`));
  return parts.join(' ');
}

/** Smaller requests that might fail the same way: fewer headers, query parameters and body fields, simpler values. */
function* reductions(s: Sent): Generator<Sent> {
  for (const k of Object.keys(s.headers)) {
    if (k === 'authorization' && s.headers[k]?.startsWith('Bearer ')) continue;
    const { [k]: _, ...rest } = s.headers;
    yield { ...s, headers: rest };
  }
  const [path, query] = s.path.split(/\?(.*)/s, 2) as [string, string | undefined];
  if (query !== undefined) {
    const parts = query.split('&');
    yield { ...s, path };
    for (let i = 0; i < parts.length; i++) yield { ...s, path: `${path}?${parts.filter((_, j) => j !== i).join('&')}` };
  }
  if (s.body === undefined) return;
  yield { ...s, body: undefined };
  // deep documents stay as they are (walking them is what overflows stacks)
  if (nestingOf(s.body) > 200) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s.body.toString());
  } catch {
    if (s.body.length > 64) yield { ...s, body: s.body.subarray(0, Math.floor(s.body.length / 2)) };
    return;
  }
  for (const smaller of smallerJson(fromValue(parsed))) yield { ...s, body: Buffer.from(toText(smaller)) };
}

/** How deep brackets nest in `b` (ignoring strings), in one pass. */
function nestingOf(b: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** One-step simplifications of a JSON document: drop an entry, or replace a subtree by a leaf. */
function* smallerJson(j: J): Generator<J> {
  if (j && typeof j === 'object' && 'obj' in j) {
    for (let i = 0; i < j.obj.length; i++) yield { obj: j.obj.filter((_, k) => k !== i) };
    for (let i = 0; i < j.obj.length; i++) for (const v of smallerJson(j.obj[i]![1])) yield { obj: j.obj.map((e, k) => (k === i ? [e[0], v] : e)) };
  } else if (j && typeof j === 'object' && 'arr' in j) {
    if (j.arr.length > 1) yield { arr: j.arr.slice(0, Math.ceil(j.arr.length / 2)) };
    for (let i = 0; i < j.arr.length && i < 4; i++) for (const v of smallerJson(j.arr[i]!)) yield { arr: j.arr.map((e, k) => (k === i ? v : e)) };
  } else if (typeof j === 'string' && j.length > 8) {
    yield j.slice(0, Math.floor(j.length / 2));
  }
}

/** Greedy reduction of a failing request, at most `budget` requests. */
async function reduce(port: number, agent: Agent, s: Sent, kind: string, budget = 150): Promise<Sent> {
  let current = s;
  let spent = 0;
  for (let progress = true; progress && spent < budget; ) {
    progress = false;
    for (const candidate of reductions(current)) {
      if (++spent > budget) break;
      if (judge(candidate, await send(port, agent, candidate, 10_000)) === kind) {
        current = candidate;
        progress = true;
        break;
      }
    }
  }
  return current;
}

export const runRestCampaign = (settings: FuzzSettings): Promise<RestResult> => withTarget((target) => restCampaign(target, settings));

async function restCampaign(target: Target, settings: FuzzSettings): Promise<RestResult> {
  const started = Date.now();
  const doc = (await (await fetch(`http://127.0.0.1:${target.ports.http}/openapi.json`)).json()) as OpenApiDoc;
  const ops = new Map(operations(doc).map((o) => [o.key, o]));
  const { refs, tokens } = await setUp(target);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const port = target.ports.http;
  mkdirSync(settings.reportDir, { recursive: true });

  const stats: RestStats = {
    seed: settings.seed, batches: 0, requests: 0, operations: ops.size, byStatus: {}, fiveHundreds: 0, violations: 0, noResponse: 0,
    crashes: 0, healthFailures: 0, largestErrorBody: { bytes: 0, op: '', requestBytes: 0 }, durationS: 0,
  };
  const findings = new Map<string, RestFinding & { sent: Sent; logIndex: number; previous?: Sent }>();
  /** The last request each keep-alive connection carried: a request that hangs may be the previous one's fault. */
  const lastOnConnection = new Map<number, Sent>();
  let runIndex = settings.path !== undefined ? Number(settings.path.split(':')[0]) : 0;

  const total = settings.restRequests;
  const numRuns = settings.path !== undefined ? 1 : Math.ceil(total / BATCH);
  log('rest', `seed=${settings.seed} target=${total} requests over ${ops.size} operations; replay: ${replayHint('rest', settings)}`);

  const labelled = batchArb(doc, BATCH).map((b) => Object.assign(b, { [fc.toStringMethod]: () => `Batch(${b.map((r) => `${r.method} ${r.op.split(' ')[1]} ${r.body.kind}`).join(', ')})` }));
  const property = fc.asyncProperty(labelled, async (batch) => {
    const path = String(runIndex++);
    stats.batches++;
    const queue = [...batch];
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        const s = render(ops, r, tokens, refs);
        const logsBefore = target.errorLogs().length;
        const res = await send(port, agent, s);
        if (process.env.FUZZ_TRACE) log('rest', `${res.via ?? '-'} ${res.error ?? res.status} ${s.method} ${s.path.slice(0, 160)} ${JSON.stringify(s.headers).slice(0, 200)} ${s.body ? `[${s.body.length} bytes] ${JSON.stringify(s.body.subarray(0, 120).toString())}` : ''}`);
        stats.requests++;
        stats.byStatus[res.error ? `no-response` : String(res.status)] = (stats.byStatus[res.error ? 'no-response' : String(res.status)] ?? 0) + 1;
        if (res.status >= 400 && res.body.length > stats.largestErrorBody.bytes) stats.largestErrorBody = { bytes: res.body.length, op: r.op, requestBytes: s.path.length + (s.body?.length ?? 0) };
        const previous = res.via !== undefined ? lastOnConnection.get(res.via) : undefined;
        if (res.via !== undefined) lastOnConnection.set(res.via, s);
        const kind = judge(s, res);
        if (!kind) continue;
        if (kind.startsWith('5')) stats.fiveHundreds++;
        else if (kind.startsWith('no-response')) stats.noResponse++;
        else stats.violations++;
        // 5xx by operation (each is a handler's bug); the rest by what answered (e.g. fastify's FST_ERR_* code), over all operations
        let answered = '';
        try {
          answered = String(JSON.parse(res.body).code ?? '');
        } catch {
          // not JSON
        }
        const key = kind.startsWith('5') ? `${kind} | ${r.op}` : `${kind} | ${answered}`;
        const size = s.path.length + (s.body?.length ?? 0);
        const existing = findings.get(key);
        if (existing) {
          existing.count++;
          if (!existing.ops.includes(r.op)) existing.ops.push(r.op);
          if (size >= existing.sent.path.length + (existing.sent.body?.length ?? 0)) continue;
        }
        findings.set(key, {
          kind, op: r.op, ops: existing?.ops ?? [r.op], count: (existing?.count ?? 0) + (existing ? 0 : 1), path: existing?.path ?? path, sent: s, logIndex: logsBefore,
          ...(kind.startsWith('no-response') && previous ? { previous } : {}),
          example: { request: '', status: res.status, contentType: res.contentType, body: res.body.slice(0, 600) }, logs: [],
        });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const exit = target.exit();
    if (exit) {
      stats.crashes++;
      throw new Error(`the broker exited (${exit}) during batch ${path}; its last output:\n${target.tail()}`);
    }
    const health = await target.healthz();
    if (health !== 200) {
      stats.healthFailures++;
      throw new Error(`GET /healthz answered ${health || 'nothing in 10 s'} after batch ${path}`);
    }
    if (stats.batches % 40 === 0) log('rest', `${stats.requests} requests, ${stats.fiveHundreds} 5xx, ${stats.violations} other violations`);
  });

  let fatal: string | undefined;
  try {
    await fc.assert(property, { seed: settings.seed, numRuns, endOnFailure: true, ...(settings.path !== undefined ? { path: settings.path } : {}) });
  } catch (e) {
    const err = e as Error;
    const cause = err.cause instanceof Error ? `\nGot error: ${err.cause.message}` : '';
    fatal = err.message.includes('Property failed') ? `${err.message}${cause}` : `${err.stack ?? err.message}`;
  }

  // Reduce each finding's smallest example and attach the broker's error logs while it ran.
  let bodyFiles = 0;
  const bodyFile = (body: Buffer | undefined) => () => {
    const file = join(settings.reportDir, `baton-fuzz-rest-${settings.seed}-body-${bodyFiles++}.bin`);
    writeFileSync(file, body ?? Buffer.alloc(0));
    return file;
  };
  // reductions each on a new connection, so what an earlier request left on a connection cannot decide them
  const fresh = new Agent({ keepAlive: false });
  const tokenNames = new Map(Object.entries(tokens).map(([role, token]) => [token, `${role.toUpperCase()}_TOKEN`]));
  const out: RestFinding[] = [];
  for (const f of [...findings.values()].sort((a, b) => b.count - a.count)) {
    f.example.request = curl(f.sent, bodyFile(f.sent.body), tokenNames);
    if (f.previous) f.example.previousOnConnection = curl(f.previous, bodyFile(f.previous.body), tokenNames);
    // a hang is about the connection, not the request: reducing it would cost a timeout a try
    if (!target.exit() && out.length < 40 && !f.kind.startsWith('no-response')) {
      const reduced = await reduce(port, fresh, f.sent, f.kind);
      // once more, alone, for the broker's log lines behind it (and whether it fails on its own)
      const before = target.errorLogs().length;
      const again = judge(reduced, await send(port, fresh, reduced, 10_000));
      f.reduced = `${curl(reduced, bodyFile(reduced.body), tokenNames)}${again === f.kind ? '' : `  # sent alone after the run: ${again ?? 'passed'}`}`;
      f.logs = target.errorLogs().slice(before, before + 3).map((l) => `${l.msg}: ${l.err?.type ?? ''} ${l.err?.message ?? ''}\n${(l.err?.stack ?? '').split('\n').slice(1, 6).join('\n')}`);
    }
    const { sent: _s, logIndex: _l, previous: _p, ...finding } = f;
    out.push(finding);
  }

  agent.destroy();
  fresh.destroy();
  stats.durationS = Math.round((Date.now() - started) / 100) / 10;
  const reportFile = join(settings.reportDir, `baton-fuzz-rest-${settings.seed}.json`);
  writeFileSync(reportFile, JSON.stringify({ stats, fatal, findings: out, replay: replayHint('rest', settings) }, null, 2));
  log('rest', `done: ${JSON.stringify(stats)}`);
  log('rest', `${out.length} distinct findings, fatal: ${fatal ? 'yes' : 'no'}; report: ${reportFile}`);
  return { stats, findings: out, fatal, reportFile };
}
