import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../device-sdk/protocol/shadow.js';
import { applyUpdate, deleteShadow, type StoredShadow } from './document.js';
import { defaultShadowLimits as limits } from './limits.js';
import { flattenLeaves, flattenLeavesUnder, matchesFilter, parseQueryValue, parseShadowQuery, pathKey, type ShadowFilter } from './query.js';
import { rejectionOf } from './test-fixtures.js';

const shadow = (desired: JsonObject, reported: JsonObject): StoredShadow =>
  applyUpdate(undefined, { state: { desired, reported } }, { now: 0, limits, source: 'device' }).stored;

describe('parseQueryValue: values compare as JSON, else as text', () => {
  it.each<[string, JsonValue]>([
    ['1.2.0', '1.2.0'],
    ['3', 3],
    ['3.0', 3],
    ['-1e2', -100],
    ['true', true],
    ['false', false],
    ['"3"', '3'],
    ['"true"', 'true'],
    ['[1,"a"]', [1, 'a']],
    ['007', '007'],
    ['on', 'on'],
    ['', ''],
  ])('%j → %j', (text, value) => {
    expect(parseQueryValue(text)).toEqual(value);
  });

  it.each(['null', '{"a":1}'])('refuses %s, which no leaf can hold', (text) => {
    expect(rejectionOf(() => parseQueryValue(text)).code).toBe('InvalidRequest');
  });
});

describe('parseShadowQuery', () => {
  it.each<[string, Record<string, unknown>, ShadowFilter]>([
    ['nothing', {}, { leaves: [] }],
    [
      'a reported string',
      { 'reported.fw': '1.2.0' },
      { leaves: [{ side: 'reported', keys: ['fw'], path: '["fw"]', valuesJson: ['"1.2.0"'] }] },
    ],
    [
      'a nested desired number',
      { 'desired.net.rssi': '-70' },
      { leaves: [{ side: 'desired', keys: ['net', 'rssi'], path: '["net","rssi"]', valuesJson: ['-70'] }] },
    ],
    [
      'a repeated parameter means any of',
      { 'reported.mode': ['eco', 'off'] },
      { leaves: [{ side: 'reported', keys: ['mode'], path: '["mode"]', valuesJson: ['"eco"', '"off"'] }] },
    ],
    ['hasDelta=true', { hasDelta: 'true' }, { leaves: [], hasDelta: true }],
    ['hasDelta=false', { hasDelta: 'false' }, { leaves: [], hasDelta: false }],
    ['pass-through and undefined parameters are skipped', { limit: '10', cursor: undefined }, { leaves: [] }],
  ])('%s', (_name, query, filter) => {
    expect(parseShadowQuery(query, ['limit'])).toEqual(filter);
  });

  it.each<[string, Record<string, unknown>]>([
    ['an unknown parameter', { 'reportd.fw': '1' }],
    ['a side with no path', { reported: '1' }],
    ['an empty path segment', { 'reported.a..b': '1' }],
    ['a trailing dot', { 'desired.': '1' }],
    ['hasDelta other than true/false', { hasDelta: 'yes' }],
    ['hasDelta repeated', { hasDelta: ['true', 'false'] }],
    ['a non-text value', { 'reported.a': 3 }],
    ['an object value', { 'reported.a': '{"b":1}' }],
  ])('refuses %s', (_name, query) => {
    expect(rejectionOf(() => parseShadowQuery(query)).code).toBe('InvalidRequest');
  });
});

describe('flattenLeaves', () => {
  it('lists every leaf of desired, reported and delta, arrays whole, canonical JSON', () => {
    const s = shadow({ fw: '1.3.0', net: { wifi: true } }, { fw: '1.2.0', net: { wifi: true }, tags: [{ b: 1, a: 2 }] });
    expect(flattenLeaves(s)).toEqual([
      { side: 'desired', path: '["fw"]', valueJson: '"1.3.0"' },
      { side: 'desired', path: '["net","wifi"]', valueJson: 'true' },
      { side: 'reported', path: '["fw"]', valueJson: '"1.2.0"' },
      { side: 'reported', path: '["net","wifi"]', valueJson: 'true' },
      { side: 'reported', path: '["tags"]', valueJson: '[{"a":2,"b":1}]' },
      { side: 'delta', path: '["fw"]', valueJson: '"1.3.0"' },
    ]);
  });

  it('keeps a dotted key apart from a nested path', () => {
    const rows = flattenLeaves(shadow({}, { 'a.b': 1, a: { b: 2 } }));
    expect(rows.map((r) => r.path)).toEqual([pathKey(['a.b']), pathKey(['a', 'b'])]);
  });

  it('has no rows for a missing or deleted shadow', () => {
    const s = shadow({}, { a: 1 });
    expect(flattenLeaves(undefined)).toEqual([]);
    expect(flattenLeaves(deleteShadow(s, { now: 0, source: 'device' }).stored)).toEqual([]);
  });
});

describe('flattenLeavesUnder', () => {
  const s = shadow({ fw: '1.3.0', net: { wifi: true }, led: 'on' }, { fw: '1.2.0', net: { wifi: false, rssi: -70 }, up: 5 });
  it.each<[string, { desired: string[]; reported: string[] }, string[]]>([
    ['one reported key: its reported rows and the delta below it', { desired: [], reported: ['net'] }, ['reported/["net","wifi"]', 'reported/["net","rssi"]', 'delta/["net","wifi"]']],
    ['one desired key', { desired: ['led'], reported: [] }, ['desired/["led"]', 'delta/["led"]']],
    ['a key in neither section', { desired: ['nope'], reported: ['nope'] }, []],
  ])('%s', (_name, keys, expected) => {
    expect(flattenLeavesUnder(s, keys).map((r) => `${r.side}/${r.path}`)).toEqual(expected);
  });

  it('is flattenLeaves restricted to those keys, for every subset of keys', () => {
    const all = ['fw', 'net', 'led', 'up'];
    for (let mask = 0; mask < 1 << all.length; mask++) {
      const keys = all.filter((_, i) => mask & (1 << i));
      const expected = flattenLeaves(s).filter((r) => keys.some((k) => r.path.startsWith(pathKey([k]).slice(0, -1))));
      expect(flattenLeavesUnder(s, { desired: keys, reported: keys })).toEqual(expected);
    }
  });
});

describe('matchesFilter', () => {
  const fleet: Record<string, StoredShadow> = {
    old: shadow({ fw: '1.3.0' }, { fw: '1.2.0', count: 3, ok: true }),
    done: shadow({ fw: '1.3.0' }, { fw: '1.3.0', count: '3', ok: false }),
  };

  it.each<[string, Record<string, unknown>, string[]]>([
    ['reported.fw=1.2.0 (a string)', { 'reported.fw': '1.2.0' }, ['old']],
    ['reported.count=3 (the number only)', { 'reported.count': '3' }, ['old']],
    ['reported.count="3" (the string only)', { 'reported.count': '"3"' }, ['done']],
    ['reported.ok=true (the boolean)', { 'reported.ok': 'true' }, ['old']],
    ['desired.fw=1.3.0', { 'desired.fw': '1.3.0' }, ['old', 'done']],
    ['hasDelta=true', { hasDelta: 'true' }, ['old']],
    ['hasDelta=false', { hasDelta: 'false' }, ['done']],
    ['conditions AND', { 'desired.fw': '1.3.0', 'reported.ok': 'false' }, ['done']],
    ['any of', { 'reported.fw': ['1.2.0', '1.3.0'] }, ['old', 'done']],
    ['a missing path matches nothing', { 'reported.nope': '1' }, []],
  ])('%s', (_name, query, expected) => {
    const filter = parseShadowQuery(query);
    expect(Object.keys(fleet).filter((id) => matchesFilter(fleet[id], filter))).toEqual(expected);
  });
});
