/**
 * Generators of MQTT 3.1.1 traffic for the fuzz campaign. A batch is a few lanes run side by
 * side; a lane is a list of actions: an unauthenticated connection (a CONNECT with mutated fields,
 * or raw bytes, then maybe more packets), or an authenticated session (a registered device, an
 * integration token or a claim token) sending sequences of PUBLISH / SUBSCRIBE / UNSUBSCRIBE /
 * acks / PINGREQ / DISCONNECT with valid and hostile topics and payloads.
 *
 * Packets are generated as specs and encoded at run time (`encodePacket`), because topics name
 * things the campaign creates first (the lane's device, a firmware id, a job, a CSR). Valid packets
 * are written by mqtt-packet's `generate`; fields it refuses are written by hand (raw-mqtt.ts), and
 * `mutations` then edit the bytes.
 */
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { frame, str } from '../helpers/raw-mqtt.js';
import { anyString, applyEdits, fromValue, hostileValue, notJson, toText, treeEdit, type J } from './hostile.js';
import { applyMutations, mutation, type Mutation } from './mutate.js';

/** Values a packet spec refers to, known once the campaign has set its broker up. */
export interface EncodeContext {
  /** This lane's device id (device sessions), or a registered fuzz device (others). */
  self: string;
  /** The well-behaved device whose acknowledged telemetry must all be stored. */
  good: string;
  /** Another lane's device. */
  other: string;
  /** A firmware image for the lane devices' class; a job targeting them; a claim serial. */
  fw: string;
  job: string;
  serial: string;
  template: string;
  /** A valid CSR for `self` (PEM). */
  csr: string;
}

export type Transport = 'tcp' | 'ws';

export interface ConnectFields {
  protocolName: string;
  level: number;
  /** Flags byte written as is; undefined derives it from the fields. */
  flags: number | undefined;
  keepalive: number;
  clientId: string;
  username: string | undefined;
  password: string | Uint8Array | undefined;
  will: { topic: string; payload: string; qos: number; retain: boolean } | undefined;
  /** MQTT 5 properties (level 5 only; aedes speaks 3.1.1). */
  properties: Record<string, unknown> | undefined;
}

export type Payload = { json: J } | { bytes: Uint8Array };

export type PacketSpec =
  | { t: 'connect'; fields: ConnectFields }
  | { t: 'publish'; topic: string; payload: Payload; qos: number; retain: boolean; dup: boolean; messageId: number }
  | { t: 'subscribe'; messageId: number; filters: Array<{ topic: string; qos: number }> }
  | { t: 'unsubscribe'; messageId: number; filters: string[] }
  | { t: 'ack'; cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'; messageId: number }
  | { t: 'pingreq' }
  | { t: 'disconnect' }
  | { t: 'raw'; bytes: Uint8Array };

export interface FuzzPacket {
  spec: PacketSpec;
  mutations: Mutation[];
}

/** How written bytes are split into writes (cut points as naturals modulo the length), or one write. */
export type Chunking = number[] | null;

export interface UnauthAction {
  kind: 'unauth';
  transport: Transport;
  packets: FuzzPacket[];
  chunking: Chunking;
  /** Half-close and wait for the broker to close; wait briefly for a reply; or drop at once. */
  finish: 'end' | 'linger' | 'destroy';
}

export type PrincipalKind = 'device' | 'integration' | 'claim';

export interface AuthAction {
  kind: 'auth';
  transport: Transport;
  principal: PrincipalKind;
  clean: boolean;
  /** Each sequence is written at once, then PINGREQ is the barrier (or, if mutated, the socket is half-closed). */
  sequences: Array<{ packets: FuzzPacket[]; chunking: Chunking }>;
}

export type Action = UnauthAction | AuthAction;

export interface Batch {
  lanes: Action[][];
}

// --- encoding ---------------------------------------------------------------------------------

const fill = (s: string, ctx: EncodeContext): string =>
  s.replaceAll('{self}', ctx.self).replaceAll('{good}', ctx.good).replaceAll('{other}', ctx.other)
    .replaceAll('{fw}', ctx.fw).replaceAll('{job}', ctx.job).replaceAll('{serial}', ctx.serial).replaceAll('{template}', ctx.template);

function payloadBytes(p: Payload, ctx: EncodeContext): Buffer {
  if ('bytes' in p) return Buffer.from(p.bytes);
  const text = fill(toText(p.json), ctx).replaceAll('"{csr}"', JSON.stringify(ctx.csr));
  return Buffer.from(text);
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** The same packets written by hand, for the fields mqtt-packet refuses to generate. */
function handEncode(spec: PacketSpec, ctx: EncodeContext): Buffer {
  switch (spec.t) {
    case 'connect': {
      const f = spec.fields;
      const flags =
        f.flags ??
        ((f.username !== undefined ? 0x80 : 0) | (f.password !== undefined ? 0x40 : 0) |
          (f.will ? 0x04 | ((f.will.qos & 3) << 3) | (f.will.retain ? 0x20 : 0) : 0) | 0x02);
      return frame(0x10, Buffer.concat([
        str(f.protocolName), Buffer.from([f.level & 0xff, flags & 0xff]), u16(f.keepalive), str(fill(f.clientId, ctx)),
        ...(f.will ? [str(fill(f.will.topic, ctx)), str(f.will.payload)] : []),
        ...(f.username !== undefined ? [str(fill(f.username, ctx))] : []),
        ...(f.password !== undefined ? [str(typeof f.password === 'string' ? f.password : Buffer.from(f.password))] : []),
      ]));
    }
    case 'publish': {
      const first = 0x30 | (spec.dup ? 0x08 : 0) | ((spec.qos & 3) << 1) | (spec.retain ? 1 : 0);
      return frame(first, Buffer.concat([str(fill(spec.topic, ctx)), ...(spec.qos > 0 ? [u16(spec.messageId)] : []), payloadBytes(spec.payload, ctx)]));
    }
    case 'subscribe':
      return frame(0x82, Buffer.concat([u16(spec.messageId), ...spec.filters.flatMap((f) => [str(fill(f.topic, ctx)), Buffer.from([f.qos & 0xff])])]));
    case 'unsubscribe':
      return frame(0xa2, Buffer.concat([u16(spec.messageId), ...spec.filters.map((f) => str(fill(f, ctx)))]));
    case 'ack':
      return frame({ puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 }[spec.cmd], u16(spec.messageId));
    case 'pingreq':
      return Buffer.from([0xc0, 0x00]);
    case 'disconnect':
      return Buffer.from([0xe0, 0x00]);
    case 'raw':
      return Buffer.from(spec.bytes);
  }
}

/** mqtt-packet's encoding of a spec, or undefined where it refuses the fields. */
function generate(spec: PacketSpec, ctx: EncodeContext): Buffer | undefined {
  let packet: mqttPacket.Packet;
  switch (spec.t) {
    case 'connect': {
      const f = spec.fields;
      if (f.flags !== undefined || (f.protocolName !== 'MQTT' && f.protocolName !== 'MQIsdp') || ![3, 4, 5].includes(f.level)) return undefined;
      packet = {
        cmd: 'connect', protocolId: f.protocolName, protocolVersion: f.level as 3 | 4 | 5, clean: true, keepalive: f.keepalive,
        clientId: fill(f.clientId, ctx),
        ...(f.username !== undefined ? { username: fill(f.username, ctx) } : {}),
        ...(f.password !== undefined ? { password: Buffer.from(f.password) } : {}),
        ...(f.will ? { will: { topic: fill(f.will.topic, ctx), payload: Buffer.from(f.will.payload), qos: f.will.qos as 0 | 1 | 2, retain: f.will.retain } } : {}),
        ...(f.level === 5 && f.properties ? { properties: f.properties } : {}),
      } as mqttPacket.IConnectPacket;
      break;
    }
    case 'publish':
      if (spec.qos > 2) return undefined;
      packet = { cmd: 'publish', topic: fill(spec.topic, ctx), payload: payloadBytes(spec.payload, ctx), qos: spec.qos as 0 | 1 | 2, retain: spec.retain, dup: spec.dup, messageId: spec.messageId };
      break;
    case 'subscribe':
      packet = { cmd: 'subscribe', messageId: spec.messageId, subscriptions: spec.filters.map((f) => ({ topic: fill(f.topic, ctx), qos: f.qos as 0 | 1 | 2 })) };
      break;
    case 'unsubscribe':
      packet = { cmd: 'unsubscribe', messageId: spec.messageId, unsubscriptions: spec.filters.map((f) => fill(f, ctx)) };
      break;
    case 'ack':
      packet = { cmd: spec.cmd, messageId: spec.messageId } as mqttPacket.Packet;
      break;
    case 'pingreq':
      packet = { cmd: 'pingreq' };
      break;
    case 'disconnect':
      packet = { cmd: 'disconnect' };
      break;
    case 'raw':
      return undefined;
  }
  try {
    const bytes = mqttPacket.generate(packet);
    // On some invalid fields (a string over 65,535 bytes) generate stops half-way without throwing.
    return isWholePacket(bytes) ? bytes : undefined;
  } catch {
    return undefined; // invalid fields: written by hand instead
  }
}

/** Whether `b` is exactly one packet, as its remaining length announces. */
function isWholePacket(b: Buffer): boolean {
  let length = 0;
  let i = 1;
  for (let mult = 1; i < b.length && i <= 4; i++, mult *= 128) {
    length += (b[i]! & 0x7f) * mult;
    if ((b[i]! & 0x80) === 0) return b.length === i + 1 + length;
  }
  return false;
}

export function encodePacket(p: FuzzPacket, ctx: EncodeContext): Buffer {
  const bytes = generate(p.spec, ctx) ?? handEncode(p.spec, ctx);
  return p.mutations.length ? applyMutations(bytes, p.mutations) : bytes;
}

/** A short description for logs and failure reports. */
export function describePacket(p: FuzzPacket): string {
  const s = p.spec;
  const what =
    s.t === 'publish' ? `publish q${s.qos}${s.retain ? ' retain' : ''} ${JSON.stringify(s.topic.slice(0, 80))} (${'bytes' in s.payload ? `${s.payload.bytes.length} bytes` : `${toText(s.payload.json).length} chars json`})`
    : s.t === 'subscribe' ? `subscribe ${s.filters.length} filters ${JSON.stringify(s.filters.slice(0, 3).map((f) => f.topic.slice(0, 60)))}`
    : s.t === 'unsubscribe' ? `unsubscribe ${JSON.stringify(s.filters.slice(0, 3).map((f) => f.slice(0, 60)))}`
    : s.t === 'connect' ? `connect ${s.fields.protocolName}/${s.fields.level} id=${JSON.stringify(s.fields.clientId.slice(0, 40))} user=${JSON.stringify(s.fields.username?.slice(0, 40))}`
    : s.t === 'ack' ? `${s.cmd} ${s.messageId}`
    : s.t === 'raw' ? `raw ${s.bytes.length} bytes`
    : s.t;
  return p.mutations.length ? `${what} +mutations ${JSON.stringify(p.mutations.map((m) => m.op))}` : what;
}

// --- generators -------------------------------------------------------------------------------

const weighted = <T>(...pairs: Array<[number, fc.Arbitrary<T>]>): fc.Arbitrary<T> =>
  fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

const messageId = weighted([8, fc.integer({ min: 1, max: 65535 })], [1, fc.constantFrom(0, 1, 65535)]);

/** One topic level: valid, at its 128-character limit or past it, or hostile. */
const segment = weighted(
  [5, fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/)],
  [2, fc.constantFrom('x', 'a.b', '0', '4294967295', '99999999999', 'fz-0', '{fw}', '{job}')],
  [1, fc.constantFrom('s'.repeat(128), 's'.repeat(129), 'é'.repeat(70))],
  [2, fc.constantFrom('', '+', '#', ' ', '..', '\u0000', 'a\u0000b', 'é', '😀', '$SYS', '\uFFFF', 'a b', '-1')],
);

const shadowOp = fc.constantFrom('get', 'update', 'delete');
const jobOp = fc.constantFrom('get', 'start-next', 'reconcile', '{job}/get', '{job}/update', '$next/get', 'x/update');

/** Topics a device may publish (its own up topics), and many it may not. */
const deviceTopic: fc.Arbitrary<string> = weighted(
  [6, fc.constant('devices/{self}/telemetry')],
  [6, segment.map((s) => `devices/{self}/telemetry/${s}`)],
  [4, fc.constant('devices/{self}/health')],
  [4, shadowOp.map((op) => `devices/{self}/shadow/${op}`)],
  [3, fc.tuple(segment, shadowOp).map(([n, op]) => `devices/{self}/shadow/name/${n}/${op}`)],
  [3, fc.constantFrom('devices/{self}/streams/{fw}/get', 'devices/{self}/streams/{fw}/chunk-table/get')],
  [1, segment.map((s) => `devices/{self}/streams/${s}/get`)],
  [2, fc.constant('devices/{self}/certificates/create-from-csr')],
  [4, jobOp.map((op) => `devices/{self}/jobs/${op}`)],
  // denied: another device, reply and push topics, other namespaces, wildcards, malformed
  [1, fc.constantFrom('devices/{good}/telemetry', 'devices/{good}/telemetry/fuzz', 'devices/{other}/health', 'devices/{other}/shadow/update')],
  [1, fc.constantFrom('devices/{self}/errors', 'devices/{self}/shadow/update/accepted', 'devices/{self}/shadow/update/delta', 'devices/{self}/jobs/notify-next', 'devices/{self}/streams/{fw}/data/0')],
  [1, fc.constantFrom('provisioning/{serial}/register', 'fleet/events/presence/{self}', '$SYS/broker/x', 'devices/+/telemetry', 'devices/{self}/#', '#', '', '/', 'devices//telemetry', 'devices/{self}/telemetry/', 'devices/{self}/telemetry/a/b')],
  [1, anyString(1000)],
  [1, fc.constantFrom('t/'.repeat(1000) + 'x', 'devices/{self}/telemetry/' + 'x'.repeat(65_000))],
);

const integrationTopic: fc.Arbitrary<string> = weighted(
  [3, fc.constantFrom('devices/{good}/telemetry', 'fleet/events/presence/{self}', 'devices/{self}/shadow/update')],
  [1, anyString(200)],
);

const claimTopic: fc.Arbitrary<string> = weighted(
  [6, fc.constant('provisioning/{serial}/register')],
  [1, fc.constantFrom('provisioning/other/register', 'provisioning/{serial}/register/accepted', 'devices/{self}/telemetry', 'provisioning/{serial}')],
  [1, anyString(200)],
);

/** Filters: the principal's own, and ones it may not hold (the SUBACK refuses them with 0x80). */
const filterFor = (principal: PrincipalKind | 'anyone'): fc.Arbitrary<string> =>
  weighted(
    [
      4,
      principal === 'device'
        ? fc.constantFrom('devices/{self}/#', 'devices/{self}/errors', 'devices/{self}/shadow/#', 'devices/{self}/shadow/update/delta', 'devices/{self}/shadow/name/+/+/accepted', 'devices/{self}/jobs/notify-next', 'devices/{self}/jobs/+/+/accepted', 'devices/{self}/streams/{fw}/#', 'devices/{self}/+/+', 'devices/{self}/+')
        : principal === 'integration'
          ? fc.constantFrom('devices/+/telemetry/#', 'devices/{good}/telemetry/#', 'devices/+/health', 'fleet/events/#', 'fleet/events/presence/+', 'fleet/events/jobs/#')
          : principal === 'claim'
            ? fc.constantFrom('provisioning/{serial}/register/#', 'provisioning/{serial}/register/accepted', 'provisioning/{serial}/register/+')
            : fc.constantFrom('#', 'a/b'),
    ],
    [2, fc.constantFrom('#', '+', '+/#', '$SYS/#', 'devices/#', 'devices/+/#', 'devices/{good}/#', 'devices/{other}/errors', 'fleet/#', 'provisioning/#', '+/+/+/+', '/#', '#/a', 'a/#/b', 'a+', '+a/b', 'devices/{self}/#/x', '', '\u0000', 'devices/{self}/' + '+/'.repeat(500) + '#')],
    [1, anyString(500)],
  );

/** Values the broker's schemas are picky about, to put into otherwise valid documents. */
const edge = fc.oneof(
  fc.constantFrom<J>(0, -1, 1, 100, 100.0001, -200, -200.1, 86_400, 86_401, 9007199254740991, 1e308, -0, 0.5, '', 'x', true, null),
  fc.constantFrom('9007199254740993', '1e309', '-1e309', '1e-400').map((raw): J => ({ raw })),
);

/** A document close to what `kind` expects, for edits to break in one place. */
function documentFor(kind: 'telemetry' | 'health' | 'shadow' | 'token' | 'stream' | 'csr' | 'jobUpdate' | 'startNext' | 'reconcile' | 'register'): fc.Arbitrary<J> {
  const obj = (entries: Array<[string, fc.Arbitrary<J>]>): fc.Arbitrary<J> =>
    fc.tuple(...entries.map(([k, a]) => fc.option(a, { freq: 4 }).map((v) => [k, v] as const))).map((kv) => ({
      obj: kv.filter(([, v]) => v !== null).map(([k, v]) => [k, v as J] as [string, J]),
    }));
  const num = fc.oneof(fc.integer({ min: -10, max: 100_000 }).map((n): J => n), edge);
  const token = fc.oneof(fc.string({ minLength: 1, maxLength: 64 }).map((s): J => s), fc.constantFrom<J>('', 'x'.repeat(65)));
  const json = fc.jsonValue({ maxDepth: 3 }).map(fromValue);
  const state = fc.oneof(
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }).map(fromValue),
    fc.constant<J>(null),
    fc.constantFrom(6, 7, 8, 30).map((d): J => ({ obj: [['deep', { raw: '{"a":'.repeat(d) + '1' + '}'.repeat(d) }]] })),
  );
  switch (kind) {
    case 'telemetry':
      return fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }).map(fromValue), json);
    case 'health':
      return obj(['firmwareVersion', 'uptimeS', 'bootCount', 'cpuPct', 'memFreeBytes', 'storageFreeBytes', 'batteryPct', 'rssiDbm', 'linkKbps', 'intervalS'].map((k) => [k, k === 'firmwareVersion' ? token : num]));
    case 'shadow':
      return obj([['state', obj([['desired', state], ['reported', state]])], ['version', num], ['clientToken', token]]);
    case 'token':
      return obj([['clientToken', token]]);
    case 'stream':
      return obj([
        ['blocks', fc.array(fc.tuple(num, num).map(([a, b]): J => ({ arr: [a, b] })), { maxLength: 70 }).map((arr): J => ({ arr }))],
        ['clientToken', token],
      ]);
    case 'csr':
      return obj([['csr', fc.oneof(fc.constant<J>('{csr}'), anyString(20_000).map((s): J => s))], ['clientToken', token]]);
    case 'jobUpdate':
      return obj([
        ['status', fc.constantFrom<J>('IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'QUEUED', 'TIMED_OUT', 'CANCELED', 'bogus')],
        ['statusDetails', fc.oneof(json, fc.constant<J>({ obj: [['pad', 'x'.repeat(1100)]] }))],
        ['progress', obj([['bytes', num], ['totalBytes', num], ['percent', num]])],
        ['expectedVersion', num],
        ['stepTimeoutS', num],
        ['clientToken', token],
      ]);
    case 'startNext':
      return obj([['statusDetails', json], ['stepTimeoutS', num], ['clientToken', token]]);
    case 'reconcile':
      return obj([['firmwareVersion', token], ['jobId', fc.constantFrom<J>('{job}', 'nope', '')], ['status', fc.constantFrom<J>('IN_PROGRESS', 'QUEUED', 'x')], ['clientToken', token]]);
    case 'register':
      return obj([['templateName', fc.constantFrom<J>('{template}', 'nope', '')], ['serial', fc.constantFrom<J>('{serial}', 'other', '')], ['deviceClass', fc.constantFrom<J>('fz', 'x')], ['csr', fc.oneof(fc.constant<J>('{csr}'), anyString(5000).map((s): J => s))], ['clientToken', token]]);
  }
}

/** The document kind a topic expects (from its shape), for payloads that reach a handler. */
function kindOf(topic: string): Parameters<typeof documentFor>[0] {
  if (topic.includes('/health')) return 'health';
  if (topic.includes('/shadow/') && topic.endsWith('/update')) return 'shadow';
  if (topic.includes('/shadow/')) return 'token';
  if (topic.includes('/chunk-table/')) return 'token';
  if (topic.includes('/streams/')) return 'stream';
  if (topic.includes('/certificates/')) return 'csr';
  if (topic.endsWith('/update')) return 'jobUpdate';
  if (topic.endsWith('/start-next')) return 'startNext';
  if (topic.endsWith('/reconcile')) return 'reconcile';
  if (topic.startsWith('provisioning/')) return 'register';
  if (topic.includes('/jobs/')) return 'token';
  return 'telemetry';
}

/** Stays under the default 256 KiB packet limit, mostly; sometimes crosses it. */
const MAX_PAYLOAD = 200_000;

const payloadFor = (topic: string): fc.Arbitrary<Payload> =>
  weighted<Payload>(
    [5, documentFor(kindOf(topic)).map((json) => ({ json }))],
    [4, fc.tuple(documentFor(kindOf(topic)), fc.array(treeEdit(MAX_PAYLOAD), { minLength: 1, maxLength: 3 })).map(([j, edits]) => ({ json: applyEdits(j, edits) }))],
    [2, hostileValue(MAX_PAYLOAD).map((json) => ({ json }))],
    [1, notJson.map((s) => ({ bytes: Buffer.from(s) }))],
    [1, fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes }))],
    [1, fc.constantFrom(0, 65_536, 65_537, 262_200).map((n) => ({ json: { obj: [['pad', 'x'.repeat(Math.max(0, n - 10))]] } as J }))],
  );

const qos = weighted([3, fc.constant(0)], [5, fc.constant(1)], [2, fc.constant(2)], [1, fc.constant(3)]);

const publishSpec = (topics: fc.Arbitrary<string>): fc.Arbitrary<PacketSpec> =>
  topics.chain((topic) =>
    fc.record({
      t: fc.constant('publish' as const),
      topic: fc.constant(topic),
      payload: payloadFor(topic.replaceAll('{self}', 'x')),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId,
    }),
  );

const subscribeSpec = (principal: PrincipalKind | 'anyone'): fc.Arbitrary<PacketSpec> =>
  fc.record({
    t: fc.constant('subscribe' as const),
    messageId,
    filters: weighted(
      [9, fc.array(fc.record({ topic: filterFor(principal), qos }), { minLength: 1, maxLength: 5 })],
      [1, fc.array(fc.record({ topic: filterFor(principal), qos }), { minLength: 0, maxLength: 0 })],
      [1, fc.constantFrom(257, 300).map((n) => Array.from({ length: n }, (_, i) => ({ topic: `devices/{self}/shadow/name/s${i}/get/accepted`, qos: 1 })))],
    ),
  });

const unsubscribeSpec = (principal: PrincipalKind | 'anyone'): fc.Arbitrary<PacketSpec> =>
  fc.record({ t: fc.constant('unsubscribe' as const), messageId, filters: fc.array(filterFor(principal), { minLength: 0, maxLength: 4 }) });

const ackSpec: fc.Arbitrary<PacketSpec> = fc.record({
  t: fc.constant('ack' as const),
  cmd: fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const),
  messageId,
});

const rawSpec: fc.Arbitrary<PacketSpec> = fc.record({ t: fc.constant('raw' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) });

/** A packet with, `mutateOneIn` times out of …, 1–3 byte-level mutations. */
const withMutations = (spec: fc.Arbitrary<PacketSpec>, mutatedWeight: number): fc.Arbitrary<FuzzPacket> =>
  fc.record({
    spec,
    mutations: weighted([10 - mutatedWeight, fc.constant<Mutation[]>([])], [mutatedWeight, fc.array(mutation, { minLength: 1, maxLength: 3 })]),
  });

/** A packet of an authenticated session of `principal`. */
const sessionPacket = (principal: PrincipalKind): fc.Arbitrary<PacketSpec> => {
  const publishTopics = principal === 'device' ? deviceTopic : principal === 'claim' ? claimTopic : integrationTopic;
  return weighted(
    [principal === 'integration' ? 10 : 100, publishSpec(publishTopics)],
    [30, subscribeSpec(principal)],
    [10, unsubscribeSpec(principal)],
    [20, ackSpec],
    [10, fc.constant<PacketSpec>({ t: 'pingreq' })],
    [principal === 'integration' ? 10 : 3, fc.constant<PacketSpec>({ t: 'disconnect' })],
    [3, connectSpec.map((fields): PacketSpec => ({ t: 'connect', fields }))],
    [3, rawSpec],
  );
};

const password = weighted<string | Uint8Array | undefined>(
  [2, fc.constant(undefined)],
  [3, fc.constantFrom('wrong', '', 'btk_' + 'A'.repeat(43), 'x'.repeat(65_535), 'test-admin-token-0123456789abcdef012345678')],
  [2, fc.uint8Array({ maxLength: 64 })],
  [1, anyString(70_000)],
);

/** CONNECT fields, mostly valid in form (so the broker gets as far as authentication), with valid credentials never. */
export const connectSpec: fc.Arbitrary<ConnectFields> = fc.record({
  protocolName: weighted([8, fc.constant('MQTT')], [1, fc.constant('MQIsdp')], [1, fc.constantFrom('mqtt', 'MQTT\u0000', '', 'HTTP', 'MQTTT', 'é')]),
  level: weighted([7, fc.constant(4)], [1, fc.constantFrom(3, 5)], [1, fc.integer({ min: 0, max: 255 })]),
  flags: weighted([9, fc.constant(undefined)], [1, fc.integer({ min: 0, max: 255 })]),
  keepalive: weighted([4, fc.constantFrom(0, 1, 60, 65535)], [1, fc.integer({ min: 0, max: 65535 })]),
  clientId: weighted(
    [4, fc.constantFrom('', '{good}', '{self}', '{other}', 'provision-{serial}', 'provision-', 'api', 'claim', 'x'.repeat(23), 'x'.repeat(24))],
    [3, anyString(1000)],
    [1, fc.constantFrom('x'.repeat(65_535), 'é'.repeat(40_000))],
  ),
  username: fc.option(weighted([3, fc.constantFrom('api', 'claim', '{good}', '{self}', '', '{other}')], [1, anyString(70_000)]), { freq: 3, nil: undefined }),
  password,
  will: fc.option(
    fc.record({
      topic: weighted([2, fc.constantFrom('devices/{good}/telemetry', 'fleet/events/x', 'a/b', '$SYS/x', '#', '')], [1, anyString(200)]),
      payload: fc.string({ maxLength: 50 }),
      qos: fc.integer({ min: 0, max: 3 }),
      retain: fc.boolean(),
    }),
    { freq: 4, nil: undefined },
  ),
  properties: fc.option(
    fc.constantFrom<Record<string, unknown>>(
      { sessionExpiryInterval: 4294967295 }, { receiveMaximum: 1 }, { maximumPacketSize: 1 }, { topicAliasMaximum: 65535 },
      { userProperties: { a: 'b'.repeat(1000) } }, { authenticationMethod: 'SCRAM', authenticationData: Buffer.from('x') }, { requestProblemInformation: true },
    ),
    { freq: 2, nil: undefined },
  ),
});

const chunking: fc.Arbitrary<Chunking> = weighted([3, fc.constant(null)], [1, fc.array(fc.nat(), { minLength: 1, maxLength: 6 })]);
const transport: fc.Arbitrary<Transport> = weighted([4, fc.constant('tcp' as const)], [1, fc.constant('ws' as const)]);

const unauthAction: fc.Arbitrary<UnauthAction> = fc.record({
  kind: fc.constant('unauth' as const),
  transport,
  packets: weighted(
    // a CONNECT (mutated fields, maybe mutated bytes), then whatever a client may send before CONNACK
    [6, fc.tuple(withMutations(connectSpec.map((fields): PacketSpec => ({ t: 'connect', fields })), 3), fc.array(withMutations(sessionPacket('device'), 3), { maxLength: 3 })).map(([c, rest]) => [c, ...rest])],
    // no CONNECT at all: another packet first, or garbage
    [2, fc.array(withMutations(sessionPacket('device'), 3), { minLength: 1, maxLength: 3 })],
    [1, fc.array(withMutations(rawSpec, 0), { minLength: 1, maxLength: 2 })],
  ),
  chunking,
  finish: fc.constantFrom('end' as const, 'end' as const, 'linger' as const, 'destroy' as const),
});

const authAction: fc.Arbitrary<AuthAction> = weighted<PrincipalKind>([8, fc.constant('device')], [1, fc.constant('integration')], [1, fc.constant('claim')]).chain((principal) =>
  fc.record({
    kind: fc.constant('auth' as const),
    transport,
    principal: fc.constant(principal),
    clean: weighted([3, fc.constant(true)], [1, fc.constant(false)]),
    sequences: fc.array(
      fc.record({
        packets: weighted(
          [2, fc.array(withMutations(sessionPacket(principal), 0), { minLength: 1, maxLength: 8 })],
          [1, fc.array(withMutations(sessionPacket(principal), 3), { minLength: 1, maxLength: 6 })],
        ),
        chunking,
      }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
);

export const LANES = 6;

/** A batch: LANES lanes of 1–3 actions each, about 60 packets in all. */
export const batch: fc.Arbitrary<Batch> = fc
  .array(fc.array(weighted<Action>([3, unauthAction], [2, authAction]), { minLength: 1, maxLength: 3 }), { minLength: LANES, maxLength: LANES })
  .map((lanes) => ({ lanes }));

/** Packets an action writes, counting the CONNECT an authenticated session sends first. */
export const packetsOf = (a: Action): number =>
  a.kind === 'unauth' ? a.packets.length : 1 + a.sequences.reduce((n, s) => n + s.packets.length, 0);

