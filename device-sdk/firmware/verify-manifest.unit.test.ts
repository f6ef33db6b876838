import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../protocol/errors.js';
import { initialDeviceState, withAcceptedManifest } from './device-state.js';
import { MANIFEST_TYP, MAX_MANIFEST_BYTES, type FirmwareManifest } from './manifest.js';
import { codeOf, makeImage, makeTestKey, manifestFor, signJws, signTestManifest } from './test-fixtures.js';
import { verifyManifest, type DeviceFirmwareContext } from './verify-manifest.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse('2025-06-10T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const es = makeTestKey('ES256');
const ed = makeTestKey('EdDSA');
const stranger = makeTestKey('ES256');
const trusted = [es.trusted, ed.trusted];
const image = makeImage(5000);

const device = (over: Partial<DeviceFirmwareContext> = {}): DeviceFirmwareContext => ({
  deviceClass: 'sensor-v2',
  installedSequence: 10,
  installedSecurityCounter: 3,
  trustedTime: 0,
  freeBytes: 1 << 20,
  now: () => NOW,
  ...over,
});

const manifest = (over: Partial<FirmwareManifest> = {}) =>
  manifestFor(image, {
    keyId: es.trusted.keyId,
    issuedAt: iso(NOW - DAY),
    expiresAt: iso(NOW + 30 * DAY),
    ...over,
  });

const signed = (over: Partial<FirmwareManifest> = {}) => signTestManifest(manifest(over), es);

/** Re-encodes the payload of a valid JWS with one field changed, keeping header and signature. */
function tamper(jws: string, field: keyof FirmwareManifest, value: unknown): string {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), [field]: value };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

const header = (over: Record<string, unknown>) => ({ alg: 'ES256', kid: es.trusted.keyId, typ: MANIFEST_TYP, ...over });
const payload = () => JSON.stringify(manifest());
const otherKeyIdPayload = () => JSON.stringify(manifest({ keyId: ed.trusted.keyId }));
const expiredByStranger = () =>
  signTestManifest(manifest({ keyId: stranger.trusted.keyId, expiresAt: iso(NOW - 1) }), stranger);

describe('verifyManifest', () => {
  it('accepts a valid ES256 or EdDSA manifest, as a string or as MQTT payload bytes', () => {
    expect(verifyManifest(signed(), trusted, device())).toEqual(manifest());
    const edManifest = manifest({ keyId: ed.trusted.keyId });
    expect(verifyManifest(signTestManifest(edManifest, ed), trusted, device())).toEqual(edManifest);
    expect(verifyManifest(Buffer.from(signed()), trusted, device())).toEqual(manifest());
  });

  const cases: Array<[string, () => string | Buffer, Partial<DeviceFirmwareContext>, ErrorCode]> = [
    ['sequence changed after signing', () => tamper(signed(), 'sequence', 99), {}, 'SignatureInvalid'],
    ['device class changed after signing', () => tamper(signed(), 'deviceClass', 'other'), {}, 'SignatureInvalid'],
    ['signature byte flipped', () => signed().slice(0, -3) + (signed().endsWith('AAA') ? 'BAA' : 'AAA'), {}, 'SignatureInvalid'],
    ['unsigned manifest (bare JSON)', () => payload(), {}, 'SignatureInvalid'],
    ['empty signature', () => signed().replace(/[^.]+$/, ''), {}, 'SignatureInvalid'],
    ['alg none', () => signJws(payload(), header({ alg: 'none' })), {}, 'SignatureInvalid'],
    ['alg none with a junk signature', () => signJws(payload(), header({ alg: 'none' })) + 'AAAA', {}, 'SignatureInvalid'],
    ['HS256 keyed with the public key', () => signJws(payload(), header({ alg: 'HS256' }), es.trusted.publicKeyPem), {}, 'SignatureInvalid'],
    ['alg differs from the pinned key', () => signJws(payload(), header({ alg: 'EdDSA' }), ed.privateKey), {}, 'SignatureInvalid'],
    ['crit header', () => signJws(payload(), header({ crit: ['exp'], exp: 1 }), es.privateKey), {}, 'SignatureInvalid'],
    ['no typ', () => signJws(payload(), header({ typ: undefined }), es.privateKey), {}, 'SignatureInvalid'],
    ['unknown kid', () => signTestManifest(manifest({ keyId: stranger.trusted.keyId }), stranger), {}, 'UntrustedKey'],
    ['manifest keyId names another trusted key', () => signJws(otherKeyIdPayload(), header({}), es.privateKey), {}, 'SignatureInvalid'],
    ['over 8 KiB, refused unread', () => 'x'.repeat(MAX_MANIFEST_BYTES + 1), {}, 'TooLarge'],
    ['signed but not a valid manifest', () => signJws('{"formatVersion":2}', header({}), es.privateKey), {}, 'InvalidRequest'],
    ['expired', () => signed({ expiresAt: iso(NOW - 1) }), {}, 'Expired'],
    ['expiring exactly now', () => signed({ expiresAt: iso(NOW) }), {}, 'Expired'],
    ['expired by trusted time though the clock says fine', () => signed(), { trustedTime: NOW + 31 * DAY }, 'Expired'],
    ['replay: equal sequence', () => signed({ sequence: 10 }), {}, 'Replay'],
    ['replay: lower sequence', () => signed({ sequence: 9 }), {}, 'Replay'],
    ['higher sequence, lower security counter', () => signed({ sequence: 12, securityCounter: 2 }), {}, 'Rollback'],
    ['wrong device class', () => signed({ deviceClass: 'camera-v1' }), {}, 'Incompatible'],
    ['image larger than free storage', () => signed(), { freeBytes: image.length - 1 }, 'Incompatible'],
    ['signature checked before freshness', () => expiredByStranger(), {}, 'UntrustedKey'],
    ['replay reported before incompatibility', () => signed({ sequence: 1, deviceClass: 'camera-v1' }), {}, 'Replay'],
  ];

  it.each(cases)('%s', async (_name, jws, over, code) => {
    expect(await codeOf(() => verifyManifest(jws(), trusted, device(over)))).toBe(code);
  });

  it('accepts an equal security counter (it may stay put across releases)', async () => {
    expect(await codeOf(() => verifyManifest(signed({ sequence: 11, securityCounter: 3 }), trusted, device()))).toBe('none');
  });

  it('refuses older metadata after the device clock is set back past a newer accepted manifest', async () => {
    const newer = manifest({ issuedAt: iso(NOW), expiresAt: iso(NOW + 30 * DAY) });
    const jws = signTestManifest(newer, es);
    const state = withAcceptedManifest(initialDeviceState, verifyManifest(jws, trusted, device()), jws);
    expect(state.trustedTime).toBe(NOW);

    const older = signed({ issuedAt: iso(NOW - 70 * DAY), expiresAt: iso(NOW - 10 * DAY) });
    const clockSetBack = () => NOW - 60 * DAY;
    expect(await codeOf(() => verifyManifest(older, trusted, device({ now: clockSetBack })))).toBe('none');
    expect(
      await codeOf(() => verifyManifest(older, trusted, device({ now: clockSetBack, trustedTime: state.trustedTime }))),
    ).toBe('Expired');
  });
});
