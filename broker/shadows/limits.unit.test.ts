import { describe, expect, it } from 'vitest';
import { BatonError, type ErrorCode } from '../../device-sdk/protocol/errors.js';
import { shadowRejectedSchema } from '../../device-sdk/protocol/shadow.js';
import { defaultShadowLimits, parseTokenRequest, parseUpdateRequest, resolveShadowLimits } from './limits.js';
import { toRejected } from './rejected.js';
import { rejectionOf } from './test-fixtures.js';

const buf = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

/** `{ k: { k: … 1 } }` with `levels` levels of objects. */
const nested = (levels: number): unknown => (levels === 0 ? 1 : { k: nested(levels - 1) });

const small = resolveShadowLimits({ maxRequestBytes: 200 });

type Rejection = [name: string, code: ErrorCode, payload: Buffer];

const updateRejections: Rejection[] = [
  ['payload over maxRequestBytes', 'PayloadTooLarge', buf({ state: { desired: { a: 'x'.repeat(300) } } })],
  ['not JSON', 'InvalidJSON', buf('{"state":')],
  ['not UTF-8', 'InvalidJSON', Buffer.from([0x7b, 0xff, 0x7d])],
  ['empty payload', 'InvalidJSON', Buffer.alloc(0)],
  ['desired 7 levels deep', 'TooDeep', buf({ state: { desired: nested(7) } })],
  ['reported 7 levels deep via arrays', 'TooDeep', buf({ state: { reported: { a: [[[[[[1]]]]]] } } })],
  ['hostile 60 000-deep nesting', 'TooDeep', buf('['.repeat(60_000) + ']'.repeat(60_000))],
  ['a top-level array', 'InvalidRequest', buf([])],
  ['no state', 'InvalidRequest', buf({ version: 1 })],
  ['state without desired or reported', 'InvalidRequest', buf({ state: {} })],
  ['state with delta (read-only, as in AWS)', 'InvalidRequest', buf({ state: { delta: { a: 1 } } })],
  ['desired is an array', 'InvalidRequest', buf({ state: { desired: [1] } })],
  ['reported is a string', 'InvalidRequest', buf({ state: { reported: 'on' } })],
  ['negative version', 'InvalidRequest', buf({ state: { desired: {} }, version: -1 })],
  ['fractional version', 'InvalidRequest', buf({ state: { desired: {} }, version: 1.5 })],
  ['unknown top-level key', 'InvalidRequest', buf({ state: { desired: {} }, versoin: 1 })],
  ['empty clientToken', 'InvalidRequest', buf({ state: { desired: {} }, clientToken: '' })],
  ['clientToken of 66 bytes (22 × €)', 'InvalidRequest', buf({ state: { desired: {} }, clientToken: '€'.repeat(22) })],
  ['a __proto__ key', 'InvalidRequest', buf('{"state":{"desired":{"__proto__":{"a":1}}}}')],
];

describe('parseUpdateRequest rejections', () => {
  it.each(updateRejections)('%s → %s', (_name, code, payload) => {
    const limits = code === 'PayloadTooLarge' ? small : defaultShadowLimits;
    expect(rejectionOf(() => parseUpdateRequest(payload, limits)).code).toBe(code);
  });
});

describe('parseUpdateRequest', () => {
  it.each([
    ['desired 6 levels deep', { state: { desired: nested(6) } }],
    ['both sections, version and token', { state: { desired: { a: 1 }, reported: { a: 2 } }, version: 3, clientToken: 't1' }],
    ['a null section clears it', { state: { desired: null } }],
    ['clientToken of 63 bytes (21 × €)', { state: { reported: {} }, clientToken: '€'.repeat(21) }],
  ])('accepts %s', (_name, request) => {
    expect(parseUpdateRequest(buf(request))).toEqual(request);
  });

  it('echoes a usable clientToken on rejection', () => {
    const tooDeep = buf({ state: { desired: nested(7) }, clientToken: 'tok' });
    expect(rejectionOf(() => parseUpdateRequest(tooDeep)).details).toEqual({ clientToken: 'tok' });
    const invalid = rejectionOf(() => parseUpdateRequest(buf({ state: {}, clientToken: 'tok' })));
    expect(invalid.details?.['clientToken']).toBe('tok');
  });

  it('does not echo a clientToken that is itself over the limit', () => {
    const bad = rejectionOf(() => parseUpdateRequest(buf({ state: { desired: {} }, clientToken: 'x'.repeat(65) })));
    expect(bad.details?.['clientToken']).toBeUndefined();
  });

  it('honours configured limits', () => {
    const strict = resolveShadowLimits({ maxDepth: 2, maxClientTokenBytes: 4 });
    expect(rejectionOf(() => parseUpdateRequest(buf({ state: { desired: nested(3) } }), strict)).code).toBe('TooDeep');
    expect(rejectionOf(() => parseUpdateRequest(buf({ state: { desired: {} }, clientToken: 'abcde' }), strict)).code).toBe(
      'InvalidRequest',
    );
  });
});

describe('parseTokenRequest', () => {
  it.each([
    ['an empty payload', Buffer.alloc(0), {}],
    ['an empty object', buf({}), {}],
    ['a token', buf({ clientToken: 'abc' }), { clientToken: 'abc' }],
  ])('accepts %s', (_name, payload, expected) => {
    expect(parseTokenRequest(payload)).toEqual(expected);
  });

  it.each<Rejection>([
    ['not JSON', 'InvalidJSON', buf('nope')],
    ['an unknown key', 'InvalidRequest', buf({ state: {} })],
    ['a long token', 'InvalidRequest', buf({ clientToken: 'x'.repeat(65) })],
    ['an oversize payload', 'PayloadTooLarge', buf({ clientToken: 'x'.repeat(300) })],
  ])('rejects %s → %s', (_name, code, payload) => {
    expect(rejectionOf(() => parseTokenRequest(payload, small)).code).toBe(code);
  });
});

describe('resolveShadowLimits', () => {
  it('defaults to at least the AWS limits, frozen', () => {
    expect(defaultShadowLimits).toEqual({ maxRequestBytes: 131072, maxStateBytes: 8192, maxDepth: 6, maxClientTokenBytes: 64 });
    expect(Object.isFrozen(defaultShadowLimits)).toBe(true);
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => resolveShadowLimits({ maxDepth: 0 })).toThrow();
  });
});

describe('toRejected', () => {
  it('carries the code, message, echoed token and time in seconds', () => {
    const err = new BatonError('VersionConflict', 'stale', { clientToken: 'c1' });
    const reply = toRejected(err, 1_700_000_000_999);
    expect(reply).toEqual({ code: 'VersionConflict', message: 'stale', clientToken: 'c1', timestamp: 1_700_000_000 });
    expect(shadowRejectedSchema.parse(reply)).toEqual(reply);
  });

  it('hides anything that is not a BatonError behind InternalError', () => {
    expect(toRejected(new Error('db path /var/x'), 5000)).toEqual({ code: 'InternalError', message: 'internal error', timestamp: 5 });
  });
});
