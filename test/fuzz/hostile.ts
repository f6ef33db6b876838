/**
 * JSON documents as a tree that can hold things `JSON.stringify` cannot write (duplicate keys,
 * `__proto__` keys, numbers beyond double precision, 100,000 levels of nesting), and the hostile
 * values both campaigns put into bodies, payloads, paths and query strings.
 */
import fc from 'fast-check';

/** A JSON document: primitives, raw JSON text, arrays, and objects as ordered entries. */
export type J = null | boolean | number | string | { raw: string } | { arr: J[] } | { obj: Array<[string, J]> };

export function toText(j: J): string {
  if (j === null || typeof j === 'boolean' || typeof j === 'number' || typeof j === 'string') return JSON.stringify(j) ?? 'null';
  if ('raw' in j) return j.raw;
  if ('arr' in j) return `[${j.arr.map(toText).join(',')}]`;
  return `{${j.obj.map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`).join(',')}}`;
}

/** A plain JSON value (from fc.jsonValue) as a tree. */
export function fromValue(v: unknown): J {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return { arr: v.map(fromValue) };
  if (typeof v === 'object') return { obj: Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromValue(x)]) };
  return null;
}

const raw = (text: string): J => ({ raw: text });

/** `depth` levels of arrays, objects, or both, around a leaf. */
export function deepText(depth: number, kind: 'array' | 'object' | 'mixed'): string {
  if (kind === 'array') return '['.repeat(depth) + '1' + ']'.repeat(depth);
  if (kind === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const half = Math.floor(depth / 2);
  return '{"a":['.repeat(half) + '1' + ']}'.repeat(half);
}

export const DEPTHS = [7, 8, 16, 33, 64, 65, 100, 257, 1000, 5000, 20000, 100000] as const;

const hostileNumbersText = [
  '1e309', '-1e309', '-0', '1e-400', '9007199254740993', '-9007199254740993', '123456789012345678901234567890',
  '2147483648', '4294967296', '18446744073709551616', '0.1', '1.5', '-1', '0', '1E2', '1e21', '5e-324',
];

/** Strings that have broken parsers, validators, SQL, paths and time zones before. */
export const hostileStrings: readonly string[] = [
  '', ' ', '0', '-1', 'null', 'undefined', 'true', 'NaN', 'Infinity', '1e309', '0x1f', ' 1 ',
  'ünïcödé', '日本語のテキスト', '😀👍🏽🇺🇳', 'e\u0301\u0301\u0301', '\u202Eevil\u202C', '\uFEFFbom', '\uFFFF', '\uFFFE', 'a\u0000b', '\u0000',
  '\ud800', '\udfff', 'a\ud800b', '\r\n', '\t', '\\', '"', "'", '`', '/', '.', '..', '...', '//', '\\\\',
  '../../../../etc/passwd', '..\\..\\..\\windows\\win.ini', '%2e%2e%2f%2e%2e%2f', '%00', '%', '%zz', '%c0%af', '..%2F..%2F',
  "' OR '1'='1", '"; DROP TABLE devices; --', '1; SELECT * FROM tokens', '<script>alert(1)</script>', '${7*7}', '{{7*7}}',
  '%s%s%s%n', '$(reboot)', '`id`', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '2024-02-30T00:00:00Z', '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '1970-01-01', '-8640000000000001',
  '* * * * *', '*/0 * * * *', '0 0 31 2 *', '@reboot', '60 25 * * *', '* * * * * * * *', '0-59/1,0-59/1 * * * *',
  'UTC', 'Mars/Olympus_Mons', 'Etc/GMT+14', 'Etc/GMT-15', '../../etc/localtime', 'America/Argentina/ComodRivadavia',
  'devices/#', '+', '#', 'a/+/b', '$SYS/broker', 'fleet/events/x', 'provisioning/x/register',
  '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n',
  '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
  '-----BEGIN CERTIFICATE REQUEST-----\n' + 'A'.repeat(20000) + '\n-----END CERTIFICATE REQUEST-----\n',
  'eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.', 'a.b.c', '..', 'eyJhbGciOiJFUzI1NiJ9.' + 'A'.repeat(5000) + '.AAAA',
];

/** Huge strings: around limits (64 KiB, 256 KiB, the 1 MiB body limit) and in multi-byte characters. */
export const hugeString = (max = 1_100_000): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom(1024, 4096, 16_384, 65_535, 65_536, 65_537, 262_144, 1_048_577).map((n) => Math.min(n, max)),
      fc.constantFrom('a', 'é', '😀', '\u0000', '"', '\\', ' ', '/'),
    )
    .map(([n, unit]) => unit.repeat(Math.max(1, Math.floor(n / Buffer.byteLength(unit)))));

export const anyString = (maxHuge = 1_100_000): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...hostileStrings) },
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    { weight: 1, arbitrary: hugeString(maxHuge) },
  );

/**
 * One hostile JSON value: wrong types, numbers at and past limits, huge strings, deep nesting,
 * wide containers, prototype keys. `maxBytes` bounds the text (MQTT payloads stay under the packet limit).
 */
export const hostileValue = (maxBytes = 1_100_000): fc.Arbitrary<J> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<J>(null, true, false, 0, -1, '', { arr: [] }, { obj: [] }) },
    { weight: 3, arbitrary: fc.constantFrom(...hostileNumbersText).map(raw) },
    { weight: 4, arbitrary: anyString(maxBytes) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...DEPTHS), fc.constantFrom('array' as const, 'object' as const, 'mixed' as const))
        .map(([d, k]) => raw(deepText(Math.min(d, Math.floor(maxBytes / 6)), k))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(1000, 10_000, 50_000).map((n) => Math.min(n, Math.floor(maxBytes / 12))), fc.boolean())
        .map(([n, obj]) =>
          raw(obj ? `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}` : `[${Array.from({ length: n }, (_, i) => i).join(',')}]`),
        ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"__proto__":null}',
        '{"toString":1,"valueOf":2,"hasOwnProperty":3}', '{"a":1,"a":2}', '{"":""}', '[null]', '[[]]', '{"a":{}}',
      ).map(raw),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(fromValue) },
  );

/** Deep nesting only, from just past common limits (32, 64) to 100,000 levels. */
export const deepValue: fc.Arbitrary<J> = fc
  .tuple(fc.constantFrom(33, 65, 257, 1000, 5000, 20000, 100000), fc.constantFrom('array' as const, 'object' as const, 'mixed' as const))
  .map(([d, k]) => raw(deepText(d, k)));

/** Text that is not JSON, or not quite. */
export const notJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '{', '}', '[', '{"a":}', '{"a":1,}', '[1,]', "{'a':1}", '{a:1}', 'NaN', 'undefined', 'nul', 'tru', '"unterminated',
    '{"a":1}garbage', '/* c */{}', '{"a":1}\u0000', '\uFEFF{}', '{"a":"\\x41"}', '{"a":"\\u12"}', '01', '- 1', '{"a":1e}', '\u0000', '\n\n\n'),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom(16, 10_000, 300_000).map((n) => ' '.repeat(n) + '{}'),
);

/** Applies one of a few edits (replace, drop, add unknown, duplicate, wrap) to the entries of an object. */
export interface TreeEdit {
  op: 'replace' | 'drop' | 'add' | 'duplicate' | 'wrap' | 'proto';
  at: number;
  key: string;
  value: J;
}

export const treeEdit = (maxBytes = 1_100_000): fc.Arbitrary<TreeEdit> =>
  fc.record({
    op: fc.constantFrom<TreeEdit['op']>('replace', 'replace', 'replace', 'drop', 'add', 'duplicate', 'wrap', 'proto'),
    at: fc.nat(),
    key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'extra', '', 'id', 'a'.repeat(300)), fc.string({ maxLength: 10 })),
    value: hostileValue(maxBytes),
  });

/** Every container in the tree, depth first, so an edit can pick one by index. */
function containers(j: J, out: Array<{ obj: Array<[string, J]> } | { arr: J[] }> = []): typeof out {
  if (j && typeof j === 'object' && !('raw' in j)) {
    out.push(j);
    if ('arr' in j) for (const x of j.arr) containers(x, out);
    else for (const [, x] of j.obj) containers(x, out);
  }
  return out;
}

const clone = (j: J): J => (j && typeof j === 'object' ? ('raw' in j ? j : 'arr' in j ? { arr: j.arr.map(clone) } : { obj: j.obj.map(([k, v]) => [k, clone(v)]) }) : j);

/** A copy of `j` with the edits applied (edits on a primitive replace it). */
export function applyEdits(j: J, edits: readonly TreeEdit[]): J {
  let root = clone(j);
  for (const edit of edits) {
    // values can be shared instances (constants): copy, or a later edit could nest one in itself
    const e = { ...edit, value: clone(edit.value) };
    const all = containers(root);
    if (all.length === 0) {
      root = e.value;
      continue;
    }
    const c = all[e.at % all.length]!;
    if ('arr' in c) {
      const i = c.arr.length ? e.at % c.arr.length : 0;
      if (e.op === 'drop') c.arr.splice(i, 1);
      else if (e.op === 'add' || e.op === 'duplicate') c.arr.push(e.value);
      else if (e.op === 'wrap') c.arr[i] = { arr: [c.arr[i] ?? null] };
      else c.arr[i] = e.value;
      continue;
    }
    const i = c.obj.length ? e.at % c.obj.length : 0;
    const entry = c.obj[i];
    if (e.op === 'drop') c.obj.splice(i, 1);
    else if (e.op === 'add') c.obj.push([e.key, e.value]);
    else if (e.op === 'proto') c.obj.push(['__proto__', { obj: entry ? [[entry[0], e.value]] : [] }]);
    else if (!entry) c.obj.push([e.key, e.value]);
    else if (e.op === 'duplicate') c.obj.push([entry[0], e.value]);
    else if (e.op === 'wrap') c.obj[i] = [entry[0], { arr: [entry[1]] }];
    else c.obj[i] = [entry[0], e.value];
  }
  return root;
}
