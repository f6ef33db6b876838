import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compactVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { makeImage, useTempDir, manifestFor, signJws } from '../device-sdk/firmware/test-fixtures.js';
import type { FirmwareManifest } from '../device-sdk/firmware/manifest.js';
import { Keyring, recordOf, type KeyRecord } from './keyring.js';
import { MANIFEST_TYP } from './manifest.js';
import {
  ensureSigningKey,
  generateSigningKeyPem,
  openServerSigningKey,
  SIGNING_KEY_FILE,
  signingKeyFromPem,
  signManifest,
  type SigningKey,
} from './signing-keys.js';

const image = makeImage(3000);
const manifestBy = (key: SigningKey, over: Partial<FirmwareManifest> = {}) =>
  manifestFor(image, { keyId: key.keyId, ...over });

const es = signingKeyFromPem(generateSigningKeyPem('ES256').privateKeyPem);
const ed = signingKeyFromPem(generateSigningKeyPem('EdDSA').privateKeyPem);

describe('ensureSigningKey', () => {
  const tmp = useTempDir();

  it('creates a P-256 key (mode 0600) on first start and loads the same key afterwards', async () => {
    const keyDir = join(tmp(), 'keys');
    const created = await ensureSigningKey(keyDir);
    expect(created.algorithm).toBe('ES256');
    expect(created.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect((await stat(join(keyDir, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect((await ensureSigningKey(keyDir, 'EdDSA')).keyId).toBe(created.keyId);
  });

  it('creates an Ed25519 key when asked, and one key even when two starts race', async () => {
    const [a, b] = await Promise.all([ensureSigningKey(tmp(), 'EdDSA'), ensureSigningKey(tmp(), 'EdDSA')]);
    expect(a.algorithm).toBe('EdDSA');
    expect(b.keyId).toBe(a.keyId);
  });

  it('rotates the broker key: the file holds the new key (mode 0600), the next start loads it', async () => {
    const keyDir = join(tmp(), 'keys');
    const server = await openServerSigningKey(keyDir);
    const first = server.current();
    const [a, b] = await Promise.all([server.rotate(), server.rotate('EdDSA')]);
    expect([a.previous.keyId, a.current.keyId, b.previous.keyId]).toEqual([first.keyId, b.previous.keyId, a.current.keyId]);
    expect([a.current.algorithm, b.current.algorithm]).toEqual(['ES256', 'EdDSA']);
    expect(server.current().keyId).toBe(b.current.keyId);
    expect((await stat(join(keyDir, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect((await ensureSigningKey(keyDir)).keyId).toBe(b.current.keyId);
  });

  it('refuses an RSA key with WeakKey', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await writeFile(join(tmp(), SIGNING_KEY_FILE), rsa);
    await expect(ensureSigningKey(tmp())).rejects.toMatchObject({ code: 'WeakKey' });
    expect(await readFile(join(tmp(), SIGNING_KEY_FILE), 'utf8')).toBe(rsa);
  });
});

describe('signManifest', () => {
  it.each([es, ed])('produces a standard JWS that jose verifies ($algorithm)', async (key) => {
    const manifest = manifestBy(key);
    const jws = await signManifest(manifest, key);
    const { payload, protectedHeader } = await compactVerify(jws, createPublicKey(key.publicKeyPem));
    expect(protectedHeader).toEqual({ alg: key.algorithm, kid: key.keyId, typ: MANIFEST_TYP });
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual(manifest);
  });

  it('refuses a manifest that names another key', async () => {
    await expect(signManifest(manifestBy(ed), es)).rejects.toMatchObject({ code: 'InvalidRequest' });
  });
});

describe('Keyring', () => {
  it('verifies manifests of every active key, so keys can rotate', async () => {
    const keyring = new Keyring([recordOf(es)]);
    keyring.add(recordOf(ed));
    expect(keyring.verify(await signManifest(manifestBy(es), es))).toEqual(manifestBy(es));
    expect(keyring.verify(await signManifest(manifestBy(ed), ed))).toEqual(manifestBy(ed));
  });

  it('refuses a retired key with UntrustedKey, and keeps it retired', async () => {
    const keyring = new Keyring([recordOf(es), recordOf(ed)], () => Date.parse('2025-06-01T00:00:00Z'));
    const retired = keyring.retire(es.keyId);
    expect(retired.retiredAt).toBe('2025-06-01T00:00:00.000Z');
    expect(() => keyring.verify(signJwsFor(es))).toThrowError(expect.objectContaining({ code: 'UntrustedKey' }));
    expect(() => keyring.add(recordOf(es))).toThrowError(expect.objectContaining({ code: 'Conflict' }));
    expect(keyring.trustedKeys().map((k) => k.keyId)).toEqual([ed.keyId]);
  });

  it('keeps trusting a key until its retirement time, then refuses it; a retired key stays retired', () => {
    let now = Date.parse('2025-06-01T00:00:00Z');
    const keyring = new Keyring([recordOf(es), recordOf(ed)], () => now);
    expect(keyring.retireAt(es.keyId, now + 1000)).toEqual({ ...recordOf(es), retiresAt: '2025-06-01T00:00:01.000Z' });
    expect(keyring.verify(signJwsFor(es)).keyId).toBe(es.keyId);
    expect(keyring.add(recordOf(es)).retiredAt).toBeUndefined();
    now += 1000;
    expect(keyring.get(es.keyId)).toMatchObject({ retiredAt: '2025-06-01T00:00:01.000Z', retiresAt: '2025-06-01T00:00:01.000Z' });
    expect(() => keyring.verify(signJwsFor(es))).toThrowError(expect.objectContaining({ code: 'UntrustedKey' }));
    expect(() => keyring.add(recordOf(es))).toThrowError(expect.objectContaining({ code: 'Conflict' }));
    expect(keyring.trustedKeys().map((k) => k.keyId)).toEqual([ed.keyId]);
    keyring.retire(ed.keyId);
    expect(keyring.retireAt(ed.keyId, now + 5000)).toEqual({ ...recordOf(ed), retiredAt: '2025-06-01T00:00:01.000Z' });
    expect(() => keyring.retireAt('nope', now)).toThrowError(expect.objectContaining({ code: 'NotFound' }));
  });

  it('round-trips its records through storage', () => {
    const keyring = new Keyring([recordOf(es), recordOf(ed)]);
    keyring.retire(ed.keyId);
    keyring.retireAt(es.keyId, Date.now() + 60_000);
    const reloaded = new Keyring(JSON.parse(JSON.stringify(keyring.records())) as KeyRecord[]);
    expect(reloaded.records()).toEqual(keyring.records());
  });

  it.each([
    ['a key id that is not derived from the key', { ...recordOf(es), keyId: 'feedfacefeedface' }, 'InvalidRequest'],
    ['an algorithm that does not match the key', { ...recordOf(es), algorithm: 'EdDSA' as const }, 'InvalidRequest'],
    ['a PEM that is not a key', { ...recordOf(es), publicKeyPem: 'nope' }, 'InvalidRequest'],
  ])('refuses to add %s', (_name, record, code) => {
    expect(() => new Keyring().add(record)).toThrowError(expect.objectContaining({ code }));
  });

  it.each([
    ['alg none', () => signJws(JSON.stringify(manifestBy(es)), { alg: 'none', kid: es.keyId, typ: MANIFEST_TYP })],
    ['HS256', () => signJws(JSON.stringify(manifestBy(es)), { alg: 'HS256', kid: es.keyId, typ: MANIFEST_TYP }, es.publicKeyPem)],
    ['a field changed after signing', () => swapPayload(signJwsFor(es), manifestBy(es, { sequence: 99 }))],
  ])('refuses %s with SignatureInvalid', (_name, jws) => {
    expect(() => new Keyring([recordOf(es)]).verify(jws())).toThrowError(expect.objectContaining({ code: 'SignatureInvalid' }));
  });
});

/** Keeps header and signature, replaces the payload. */
function swapPayload(jws: string, manifest: FirmwareManifest): string {
  const [header, , signature] = jws.split('.');
  return `${header}.${Buffer.from(JSON.stringify(manifest)).toString('base64url')}.${signature}`;
}

/** Synchronous ES256/EdDSA signing through the test fixture, for table cases. */
function signJwsFor(key: SigningKey): string {
  return signJws(JSON.stringify(manifestBy(key)), { alg: key.algorithm, kid: key.keyId, typ: MANIFEST_TYP }, key.privateKey);
}
