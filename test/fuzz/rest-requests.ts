/**
 * Requests generated from the OpenAPI document (GET /openapi.json): for every operation, path
 * parameters, query strings and bodies that are valid (from the schemas, with ids the campaign
 * created), at their boundaries, or hostile (huge, deep, wrong types, unicode, traversal, numbers
 * at and past their limits), with and without a token of each role.
 *
 * Values the server generates (a firmware id, a key id, a serial, a claim id, a CSR, …) appear as
 * `@@name@@` sentinels, filled in at send time (`fillRefs`).
 */
import fc from 'fast-check';
import { anyString, applyEdits, deepText, deepValue, DEPTHS, fromValue, hostileStrings, hostileValue, notJson, toText, treeEdit, type J } from './hostile.js';

// --- the document -------------------------------------------------------------------------------

type Schema = Record<string, any>;

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  /** e.g. `POST /api/v1/devices/{id}/secret` */
  key: string;
  method: string;
  path: string;
  params: Param[];
  /** The JSON body schema, if the operation takes one. */
  body: Schema | undefined;
  /** A write without a JSON body (e.g. firmware upload, raw octet-stream): gets raw bodies. */
  rawBody: boolean;
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema }>; requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
}

export function operations(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const body = op.requestBody?.content?.['application/json']?.schema;
      ops.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p) => ({ name: p.name, in: p.in as Param['in'], required: p.required ?? false, schema: p.schema ?? {} })),
        body,
        rawBody: body === undefined && method !== 'get' && method !== 'delete',
      });
    }
  }
  return ops.sort((a, b) => a.key.localeCompare(b.key));
}

/** Resolves `#/components/schemas/__shared#/definitions/schema0` (zod's nested refs) too. */
function resolveRef(doc: OpenApiDoc, ref: string): Schema {
  let node: any = doc;
  for (const part of ref.split('#').slice(1)) {
    for (const seg of part.split('/').filter(Boolean)) node = node?.[decodeURIComponent(seg.replaceAll('~1', '/').replaceAll('~0', '~'))];
  }
  return node ?? {};
}

// --- what the campaign created (known values) ----------------------------------------------------

const ref = (name: string) => `@@${name}@@`;

/** Ids by resource, as named by the path segment before the parameter. */
export const known = {
  device: ['fz-dev-0', 'fz-dev-1', 'fz-dev-2', 'fz-dev-3', 'new-0', 'new-1', 'new-2'],
  site: ['fz-site-0', 'fz-site-1', 'site-new-0'],
  job: ['fz-job', 'job-new-0', 'job-new-1'],
  firmware: [ref('fw'), 'fw-nope'],
  token: [ref('tokenSpare0'), ref('tokenSpare1'), 'tok-nope'],
  key: [ref('keyId'), '0123456789abcdef'],
  template: ['fz-tpl', 'tpl-new-0'],
  claim: [ref('claimId'), 'claim-nope'],
  serial: [ref('serial'), '00', 'ABCDEF'],
} as const;

const resourceOfSegment: Record<string, keyof typeof known> = {
  devices: 'device', sites: 'site', jobs: 'job', firmware: 'firmware', tokens: 'token', keys: 'key',
  'provisioning-templates': 'template', claims: 'claim', certificates: 'serial',
};

function resourceOf(op: Operation, param: string): keyof typeof known | undefined {
  if (param === 'deviceId') return 'device';
  const segs = op.path.split('/');
  const i = segs.indexOf(`{${param}}`);
  return i > 0 ? resourceOfSegment[segs[i - 1]!] : undefined;
}

/** Valid values for body properties by name, beside what the schema alone would give. */
function propertyOverride(op: Operation, name: string): fc.Arbitrary<J> | undefined {
  const top = op.path.split('/')[3];
  switch (name) {
    case 'id':
      return top === 'devices' ? fc.constantFrom(...known.device) : top === 'sites' ? fc.constantFrom(...known.site) : top === 'jobs' ? fc.constantFrom(...known.job) : undefined;
    case 'name':
      return top === 'provisioning-templates' ? fc.constantFrom(...known.template) : undefined;
    case 'site':
      return fc.constantFrom(...known.site);
    case 'sites':
      return fc.array(fc.constantFrom(...known.site), { minLength: 1, maxLength: 2 }).map((a) => ({ arr: a }));
    case 'devices':
      return fc.array(fc.constantFrom(...known.device), { minLength: 1, maxLength: 3 }).map((a) => ({ arr: a }));
    case 'firmwareId':
      return fc.constantFrom(...known.firmware);
    case 'deviceClass':
      return fc.constantFrom('fz', 'fz2');
    case 'deviceClasses':
      return fc.constant({ arr: ['fz'] });
    case 'tags':
      return fc.constant({ arr: ['fz'] });
    case 'csr':
      return fc.constant(ref('csr'));
    case 'publicKeyPem':
      return fc.constant(ref('publicKey'));
    case 'keyId':
      return fc.constant(ref('keyId'));
    case 'cron':
      return fc.constantFrom('0 2 * * *', '*/15 * * * *', '0 0 * * 1-5');
    case 'timeZone':
      return fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu');
    case 'uplinkBytesPerSec':
      return fc.constantFrom(1, 1000, 125_000);
    default:
      return undefined;
  }
}

// --- schemas to values ----------------------------------------------------------------------------

/**
 * `valid`: what the schema accepts; `boundary`: at and just past its limits; `nested`: valid, but
 * every free-form object (attributes, config, job documents, shadow state) carries a hostile value
 * (deep nesting, huge, wide, prototype keys), where the schema alone cannot refuse it.
 */
export type Mode = 'valid' | 'boundary' | 'nested';

const MAX_SAFE = 9007199254740991;
const rawJ = (raw: string): J => ({ raw });

/** One character every `^[…]{a,b}$` pattern of the document accepts. */
const patternChar = (pattern: string) => (/\\d\+/.test(pattern) ? '7' : 'a');

function lengthsOf(schema: Schema): { min: number; max: number | undefined } {
  const m = typeof schema.pattern === 'string' ? /\{(\d+),(\d+)\}\$$/.exec(schema.pattern) : null;
  return { min: schema.minLength ?? (m ? Number(m[1]) : 0), max: schema.maxLength ?? (m ? Number(m[2]) : undefined) };
}

function stringArb(schema: Schema, mode: Mode): fc.Arbitrary<string> {
  const { min, max } = lengthsOf(schema);
  if (mode === 'nested') mode = 'valid';
  if (mode === 'boundary') {
    const c = typeof schema.pattern === 'string' ? patternChar(schema.pattern) : 'é';
    const lengths = [min, Math.max(0, min - 1), ...(max !== undefined ? [max, max + 1] : [4096, 70_000])];
    return fc.constantFrom(...lengths).map((n) => c.repeat(n));
  }
  if (schema.format === 'date-time') {
    return fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (typeof schema.pattern === 'string') {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => max === undefined || s.length <= max);
    } catch {
      // a pattern JavaScript cannot compile: fall through
    }
  }
  return fc.string({ minLength: min, maxLength: Math.min(max ?? 24, 24) });
}

function numberArb(schema: Schema, mode: Mode): fc.Arbitrary<J> {
  if (mode === 'nested') mode = 'valid';
  const integer = schema.type === 'integer';
  const exclusive = schema.exclusiveMinimum === true || typeof schema.exclusiveMinimum === 'number';
  const lo: number = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : (schema.minimum ?? (integer ? -1000 : -1e6));
  const hi: number = typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : (schema.maximum ?? (integer ? 1_000_000 : 1e6));
  if (mode === 'boundary') {
    const values: J[] = [lo, hi, lo - 1, hi + 1, integer ? 1.5 : lo + Number.EPSILON, -0, 0];
    return fc.oneof(fc.constantFrom(...values), fc.constantFrom('9007199254740993', '1e308', '-1e308', String(MAX_SAFE)).map(rawJ));
  }
  const min = exclusive ? (integer ? lo + 1 : lo) : lo;
  if (integer) {
    const a = Math.max(min, -(2 ** 31));
    const b = Math.min(hi, 2 ** 31);
    return fc.oneof(fc.integer({ min: a, max: Math.max(a, Math.min(b, a + 1000)) }), fc.integer({ min: a, max: Math.max(a, b) })).map((n): J => n);
  }
  return fc.double({ min, max: hi, noNaN: true, noDefaultInfinity: true, minExcluded: exclusive }).map((n): J => (Object.is(n, -0) ? 0 : n));
}

/** Values for `schema`: valid ones, or values at and just past its limits. */
export function schemaArb(doc: OpenApiDoc, op: Operation, schema: Schema | undefined, mode: Mode, depth = 0): fc.Arbitrary<J> {
  if (!schema || depth > 8) return fc.jsonValue({ maxDepth: 2 }).map(fromValue);
  if (typeof schema.$ref === 'string') return schemaArb(doc, op, resolveRef(doc, schema.$ref), mode, depth + 1);
  const variants = schema.anyOf ?? schema.oneOf;
  let arb: fc.Arbitrary<J>;
  if (Array.isArray(variants) && variants.length > 0) {
    arb = fc.oneof(...variants.map((v: Schema) => schemaArb(doc, op, v, mode, depth + 1)));
  } else if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    arb = schemaArb(doc, op, Object.assign({}, ...schema.allOf.map((s: Schema) => (s.$ref ? resolveRef(doc, s.$ref) : s))), mode, depth + 1);
  } else if (Array.isArray(schema.enum)) {
    arb = mode === 'boundary'
      ? fc.oneof(fc.constantFrom(...(schema.enum as J[])), fc.constantFrom<J>('', String(schema.enum[0]).toUpperCase(), ` ${String(schema.enum[0])}`))
      : fc.constantFrom(...(schema.enum as J[]));
  } else if (schema.type === 'string') {
    arb = stringArb(schema, mode);
  } else if (schema.type === 'integer' || schema.type === 'number') {
    arb = numberArb(schema, mode);
  } else if (schema.type === 'boolean') {
    arb = fc.boolean();
  } else if (schema.type === 'array') {
    const item = schemaArb(doc, op, schema.items, mode === 'nested' ? 'nested' : 'valid', depth + 1);
    const minItems: number = schema.minItems ?? 0;
    const maxItems: number | undefined = schema.maxItems;
    arb = mode === 'boundary'
      ? fc.tuple(item, fc.constantFrom(minItems, Math.max(0, minItems - 1), maxItems ?? 1000, (maxItems ?? 1000) + 1)).map(([x, n]): J => ({ arr: Array.from({ length: n }, () => x) }))
      : fc.array(item, { minLength: minItems, maxLength: Math.max(minItems, Math.min(maxItems ?? 4, 4)) }).map((arr): J => ({ arr }));
  } else if (schema.type === 'object' || schema.properties) {
    const props: Record<string, Schema> = schema.properties ?? {};
    const required = new Set<string>(schema.required ?? []);
    const entries = Object.entries(props).map(([name, s]) => {
      const fromSchema = schemaArb(doc, op, s, mode, depth + 1);
      const override = depth < 3 ? propertyOverride(op, name) : undefined;
      const value = override && mode !== 'boundary' ? fc.oneof({ weight: 3, arbitrary: override }, { weight: 1, arbitrary: fromSchema }) : fromSchema;
      // nested: keep every optional free-form part, that is where the hostile values go
      const keep = mode === 'nested' && (s.additionalProperties !== undefined || s.$ref !== undefined || s.type === 'object');
      return (required.has(name) || keep ? value : fc.option(value, { nil: undefined, freq: 2 })).map((v) => [name, v] as const);
    });
    const freeForm = schema.additionalProperties !== undefined && schema.additionalProperties !== false && Object.keys(props).length === 0;
    const extra = !freeForm
      ? fc.constant([] as Array<readonly [string, J]>)
      : mode === 'nested'
        ? fc.tuple(fc.constantFrom('a', '__proto__', 'constructor', 'x'.repeat(200)), fc.oneof(deepValue, hostileValue())).map(([k, v]) => [[k, v] as const])
        : fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }).map((d) => Object.entries(d).map(([k, v]) => [k, fromValue(v)] as const));
    arb = fc.tuple(fc.tuple(...entries), extra).map(([kv, more]): J => ({
      obj: [...kv.filter(([, v]) => v !== undefined), ...more].map(([k, v]) => [k, v as J] as [string, J]),
    }));
  } else {
    arb = fc.jsonValue({ maxDepth: 2 }).map(fromValue);
  }
  return schema.nullable ? fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: fc.constant<J>(null) }) : arb;
}

// --- parameters ------------------------------------------------------------------------------------

/** Strings for a path segment or query value that are hostile in a URL in particular. */
const urlHostile: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...hostileStrings.filter((s) => s.length < 300)),
  fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%', '%zz', '%ff', '%c0%ae', '%u2215', ';x=1', 'a%2Fb', 'a/b', '../../../openapi.json', '..%2f..%2fhealthz'),
  fc.constantFrom(17_000, 70_000).map((n) => 'a'.repeat(n)), // past Node's 16 KiB header limit
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

/** How a value is put into the URL: percent-encoded, or as is where the HTTP client allows it. */
export type UrlEncoding = 'encoded' | 'raw';

export interface UrlValue {
  value: string;
  encoding: UrlEncoding;
}

const urlValue = (values: fc.Arbitrary<string>): fc.Arbitrary<UrlValue> =>
  fc.record({ value: values, encoding: fc.constantFrom<UrlEncoding>('encoded', 'encoded', 'encoded', 'raw') });

const asParamText = (j: J): string => (typeof j === 'string' ? j : toText(j));

function paramArb(doc: OpenApiDoc, op: Operation, p: Param): fc.Arbitrary<UrlValue> {
  const resource = p.in === 'path' ? resourceOf(op, p.name) : undefined;
  return urlValue(
    fc.oneof(
      { weight: resource ? 5 : 0, arbitrary: resource ? fc.constantFrom<string>(...known[resource]) : fc.constant('') },
      { weight: 3, arbitrary: schemaArb(doc, op, p.schema, 'valid').map(asParamText) },
      { weight: 1, arbitrary: schemaArb(doc, op, p.schema, 'boundary').map(asParamText) },
      { weight: 2, arbitrary: urlHostile },
    ),
  );
}

const extraQuery: fc.Arbitrary<Array<[string, UrlValue]>> = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom('limit', 'cursor', 'id', '__proto__', 'constructor', 'a[b]', 'reported.a', 'desired.a.b', 'reported.__proto__.x', 'reported.' + 'a.'.repeat(300) + 'b', 'desired.', 'reported..a', 'hasDelta', 'stream', ''),
      fc.string({ maxLength: 10 }),
    ),
    urlValue(fc.oneof(urlHostile, fc.constantFrom('1', 'true', '0', '-1', '1000', '1001'))),
  ),
  { maxLength: 3 },
);

// --- bodies ----------------------------------------------------------------------------------------

export type Body =
  | { kind: 'none' }
  | { kind: 'json'; variant: 'valid' | 'boundary' | 'nested' | 'edited' | 'hostile'; json: J }
  | { kind: 'text'; variant: 'not-json' | 'huge'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array };

const BODY_LIMIT = 1024 * 1024;

function bodyArb(doc: OpenApiDoc, op: Operation): fc.Arbitrary<Body> {
  const bytes = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 4096 }),
    fc.constantFrom(0, 255, 256, 65_536, BODY_LIMIT + 1, 2 * BODY_LIMIT).map((n) => new Uint8Array(n).fill(7)),
  ).map((b): Body => ({ kind: 'bytes', bytes: b }));
  const notJsonBody = notJson.map((text): Body => ({ kind: 'text', variant: 'not-json', text }));
  const huge = fc.constantFrom(BODY_LIMIT - 20, BODY_LIMIT + 1, 3 * BODY_LIMIT).map((n): Body => ({ kind: 'text', variant: 'huge', text: `{"a":"${'x'.repeat(n)}"}` }));
  const deep = fc.tuple(fc.constantFrom(...DEPTHS), fc.constantFrom('array' as const, 'object' as const, 'mixed' as const))
    .map(([d, k]): Body => ({ kind: 'json', variant: 'hostile', json: { raw: deepText(d, k) } }));
  const hostile = hostileValue().map((json): Body => ({ kind: 'json', variant: 'hostile', json }));
  if (!op.body) {
    return fc.oneof(
      { weight: op.rawBody ? 2 : 6, arbitrary: fc.constant<Body>({ kind: 'none' }) },
      { weight: op.rawBody ? 6 : 1, arbitrary: bytes },
      { weight: 1, arbitrary: hostile },
      { weight: 1, arbitrary: notJsonBody },
    );
  }
  const valid = schemaArb(doc, op, op.body, 'valid');
  return fc.oneof(
    { weight: 7, arbitrary: valid.map((json): Body => ({ kind: 'json', variant: 'valid', json })) },
    { weight: 3, arbitrary: schemaArb(doc, op, op.body, 'boundary').map((json): Body => ({ kind: 'json', variant: 'boundary', json })) },
    { weight: 3, arbitrary: schemaArb(doc, op, op.body, 'nested').map((json): Body => ({ kind: 'json', variant: 'nested', json })) },
    { weight: 5, arbitrary: fc.tuple(valid, fc.array(treeEdit(), { minLength: 1, maxLength: 3 })).map(([j, e]): Body => ({ kind: 'json', variant: 'edited', json: applyEdits(j, e) })) },
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: deep },
    { weight: 2, arbitrary: notJsonBody },
    { weight: 1, arbitrary: huge },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 1, arbitrary: bytes },
  );
}

// --- requests --------------------------------------------------------------------------------------

export type Auth = 'none' | 'admin' | 'operator' | 'viewer' | 'integration' | 'revoked' | 'malformed';

export interface RestRequest {
  op: string;
  method: string;
  path: Array<{ name: string } & UrlValue>;
  query: Array<[string, UrlValue]>;
  /** Appended to the query string as is (malformed escapes, stray separators). */
  rawQuery: string;
  body: Body;
  contentType: string | undefined;
  auth: Auth;
  malformedAuth: string;
  headers: Array<[string, string]>;
}

const authArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Auth>('admin') },
  { weight: 3, arbitrary: fc.constant<Auth>('operator') },
  { weight: 2, arbitrary: fc.constant<Auth>('viewer') },
  { weight: 2, arbitrary: fc.constant<Auth>('integration') },
  { weight: 2, arbitrary: fc.constant<Auth>('none') },
  { weight: 1, arbitrary: fc.constant<Auth>('revoked') },
  { weight: 2, arbitrary: fc.constant<Auth>('malformed') },
);

const malformedAuth = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', 'Bearer @@admin@@x', 'bearer @@admin@@', 'Bearer @@admin@@ extra', 'Bearer\t@@admin@@', 'Bearer  @@admin@@', 'Token @@admin@@',
    'Bearer btk_' + 'A'.repeat(43), 'Bearer ' + 'a'.repeat(10_000), 'Bearer \xff\xfe', 'Bearer null', 'Bearer undefined', 'Bearer ../../../etc/passwd', 'Bearer @@admin@@,Bearer @@admin@@'),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((s) => `Bearer ${s.replace(/[^\t\x20-\x7e]/g, '')}`),
);

const contentTypeFor = (body: Body, rawBody: boolean): fc.Arbitrary<string | undefined> => {
  const natural = body.kind === 'bytes' ? 'application/octet-stream' : body.kind === 'none' ? undefined : 'application/json';
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(rawBody && body.kind !== 'none' ? 'application/octet-stream' : natural) },
    { weight: 1, arbitrary: fc.constant(natural) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json;;', 'text/plain',
        'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/problem+json', 'application/octet-stream', 'application/json; charset=latin1', '*/*', '', 'application/vnd.api+json', 'application/jsonp'),
    },
  );
};

const extraHeaders = fc.array(
  fc.constantFrom<[string, string]>(
    ['accept', 'application/xml'], ['accept', 'text/html'], ['accept-encoding', 'gzip, br'], ['content-encoding', 'gzip'], ['content-encoding', 'identity'],
    ['x-baton-manifest', 'a.b.c'], ['x-baton-manifest', 'eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.'], ['x-baton-manifest', 'x'.repeat(8000)], ['x-forwarded-for', '127.0.0.1, ::1'],
    ['transfer-encoding', 'chunked'], ['expect', '100-continue'], ['if-none-match', '*'], ['range', 'bytes=0-1'], ['origin', 'http://evil.example'],
  ),
  { maxLength: 2 },
);

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

/**
 * A request of `op`: mostly every part drawn independently from valid, boundary and hostile values;
 * sometimes wholly valid (known ids, schema-valid query and body, a token that may write), so
 * requests get past validation into the handlers.
 */
export function requestArb(doc: OpenApiDoc, op: Operation): fc.Arbitrary<RestRequest> {
  return fc.oneof({ weight: 3, arbitrary: mixedRequestArb(doc, op) }, { weight: 2, arbitrary: validRequestArb(doc, op) });
}

function validRequestArb(doc: OpenApiDoc, op: Operation): fc.Arbitrary<RestRequest> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const validParam = (p: Param) => {
    const resource = p.in === 'path' ? resourceOf(op, p.name) : undefined;
    const values = resource ? fc.constantFrom<string>(...known[resource]) : schemaArb(doc, op, p.schema, 'valid').map(asParamText);
    return values.map((value): UrlValue => ({ value, encoding: 'encoded' }));
  };
  const body: fc.Arbitrary<Body> = op.body
    ? fc.oneof(
        { weight: 4, arbitrary: schemaArb(doc, op, op.body, 'valid').map((json): Body => ({ kind: 'json', variant: 'valid', json })) },
        { weight: 1, arbitrary: schemaArb(doc, op, op.body, 'boundary').map((json): Body => ({ kind: 'json', variant: 'boundary', json })) },
        { weight: 1, arbitrary: schemaArb(doc, op, op.body, 'nested').map((json): Body => ({ kind: 'json', variant: 'nested', json })) },
      )
    : op.rawBody
      ? fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((bytes): Body => ({ kind: 'bytes', bytes }))
      : fc.constant<Body>({ kind: 'none' });
  return fc.record({
    op: fc.constant(op.key),
    method: fc.constant(op.method),
    path: fc.tuple(...pathParams.map((p) => validParam(p).map((v) => ({ name: p.name, ...v })))),
    query: fc.tuple(...queryParams.map((p) => fc.option(validParam(p).map((v) => [p.name, v] as [string, UrlValue]), { nil: undefined }))).map((ps) => ps.filter((x): x is [string, UrlValue] => x !== undefined)),
    rawQuery: fc.constant(''),
    body,
    contentType: body.map((b) => (b.kind === 'bytes' ? 'application/octet-stream' : b.kind === 'json' ? 'application/json' : undefined)),
    auth: fc.constantFrom<Auth>('admin', 'admin', 'operator'),
    malformedAuth: fc.constant(''),
    headers: fc.constant([] as Array<[string, string]>),
  });
}

function mixedRequestArb(doc: OpenApiDoc, op: Operation): fc.Arbitrary<RestRequest> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const headerParams = op.params.filter((p) => p.in === 'header');
  return bodyArb(doc, op).chain((body) =>
    fc.record({
      op: fc.constant(op.key),
      method: fc.oneof({ weight: 20, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...ALL_METHODS) }),
      path: fc.tuple(...pathParams.map((p) => paramArb(doc, op, p).map((v) => ({ name: p.name, ...v })))),
      query: fc
        .tuple(
          fc.tuple(...queryParams.map((p) => fc.option(paramArb(doc, op, p).map((v) => [p.name, v] as [string, UrlValue]), { nil: undefined, freq: 2 }))),
          fc.oneof({ weight: 4, arbitrary: fc.constant([] as Array<[string, UrlValue]>) }, { weight: 1, arbitrary: extraQuery }),
        )
        .map(([ps, extra]) => [...ps.filter((x): x is [string, UrlValue] => x !== undefined), ...extra]),
      rawQuery: fc.oneof({ weight: 10, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('&', '&&', '=', '%', '%zz', 'a=%ff', '&=&', 'limit', 'limit=1&limit=2', 'a[]=1&a[]=2', '#frag', '%00=%00') }),
      body: fc.constant(body),
      contentType: contentTypeFor(body, op.rawBody),
      auth: authArb,
      malformedAuth,
      headers: fc.tuple(
        extraHeaders,
        fc.tuple(...headerParams.map((p) => fc.option(fc.oneof(anyString(8000), schemaArb(doc, op, p.schema, 'valid').map(asParamText)).map((v) => [p.name, v.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?')] as [string, string]), { nil: undefined }))),
      ).map(([a, b]) => [...a, ...b.filter((x): x is [string, string] => x !== undefined)]),
    }),
  );
}

/** A batch of requests over every operation (uniformly: each operation gets its share). */
export function batchArb(doc: OpenApiDoc, size: number): fc.Arbitrary<RestRequest[]> {
  const ops = operations(doc);
  const perOp = ops.map((op) => requestArb(doc, op));
  return fc.array(fc.oneof(...perOp), { minLength: size, maxLength: size });
}

// --- rendering -------------------------------------------------------------------------------------

export interface Refs {
  [name: string]: string;
}

/** Replaces `@@name@@` sentinels; in JSON text a sentinel inside a string is replaced by the JSON-escaped value. */
export function fillRefs(text: string, refs: Refs, escape: (v: string) => string = (v) => v): string {
  return text.replace(/@@([A-Za-z0-9]+)@@/g, (m, name: string) => (refs[name] !== undefined ? escape(refs[name]!) : m));
}

/** encodeURIComponent, with lone surrogates written as their (invalid) 3-byte UTF-8 forms instead of throwing. */
export function encodeComponent(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += ch.length === 1 && c >= 0xd800 && c <= 0xdfff
      ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
      : encodeURIComponent(ch);
  }
  return out;
}

/** Node's HTTP client accepts request-target bytes 0x21–0xff; the rest is percent-encoded. */
const rawSafe = (s: string) => s.replace(/[^\x21-\xff]|[?#]/g, (c) => encodeComponent(c));

const encodeValue = (v: UrlValue, refs: Refs) => {
  const value = fillRefs(v.value, refs);
  return v.encoding === 'encoded' ? encodeComponent(value) : rawSafe(value);
};

export function renderPath(op: Operation, r: RestRequest, refs: Refs): string {
  let path = op.path;
  for (const p of r.path) path = path.replace(`{${p.name}}`, encodeValue(p, refs));
  const query = r.query.map(([k, v]) => `${encodeComponent(k)}=${encodeValue(v, refs)}`);
  if (r.rawQuery) query.push(rawSafe(r.rawQuery).replaceAll('%23', '#'));
  return query.length ? `${path}?${query.join('&')}` : path;
}

export function renderBody(b: Body, refs: Refs): Buffer | undefined {
  switch (b.kind) {
    case 'none':
      return undefined;
    case 'json':
      return Buffer.from(fillRefs(toText(b.json), refs, (v) => JSON.stringify(v).slice(1, -1)));
    case 'text':
      return Buffer.from(b.text);
    case 'bytes':
      return Buffer.from(b.bytes);
  }
}
