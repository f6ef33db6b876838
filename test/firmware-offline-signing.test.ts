import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSignedManifest } from '../device-sdk/firmware/verify-manifest.js';
import { randomImage, runBatonCli, signedManifest, tempDir, trustedKeys, uploadImage } from './helpers/firmware.js';
import { startBaton } from './helpers/service.js';

const expectProblem = (res: { status: number; body: any }, status: number, code: string) => {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
};

/** `baton firmware keygen` and `sign` as an operator runs them; returns the key's public PEM and the manifest. */
async function signOffline(dir: string, image: Buffer, version: string) {
  await writeFile(join(dir, 'image.bin'), image);
  const keygen = await runBatonCli(['firmware', 'keygen', '--out', 'release.pem'], dir);
  expect(keygen.code).toBe(0);
  const publicKeyPem = keygen.stdout.slice(keygen.stdout.indexOf('-----BEGIN')).trim() + '\n';
  const sign = await runBatonCli(['firmware', 'sign', '--key', 'release.pem', '--device-class', 'cam', '--version', version, '--chunk-size', '2048', '--out', 'm.jws', 'image.bin'], dir);
  expect(sign.code).toBe(0);
  return { publicKeyPem, manifest: await readFile(join(dir, 'm.jws'), 'utf8') };
}

describe('offline-signed firmware', () => {
  it('is accepted once its key is registered, and verified by devices with the listed keys', async () => {
    const baton = await startBaton();
    const dir = tempDir();
    const image = randomImage(9000);
    const { publicKeyPem, manifest } = await signOffline(dir, image, '3.1.0');

    expectProblem(await uploadImage(baton, image, {}, { manifest }), 400, 'UntrustedKey');
    const added = await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ algorithm: 'ES256', source: 'offline', retiredAt: null });

    const up = await uploadImage(baton, image, {}, { manifest });
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ deviceClass: 'cam', version: '3.1.0', chunkSize: 2048, signedBy: 'offline', keyId: added.body.keyId, status: 'active' });
    // The server stores and serves the operator's bytes unchanged; devices verify them.
    expect(await signedManifest(baton, up.body.id)).toBe(manifest);
    expect(openSignedManifest(manifest, await trustedKeys(baton)).firmwareId).toBe(up.body.id);
    expect((await uploadImage(baton, image, { deviceClass: 'cam' }, { manifest })).status).toBe(200);
  });

  it('refuses a manifest that does not describe the image, or that overrides signed fields', async () => {
    const baton = await startBaton();
    const dir = tempDir();
    const image = randomImage(4000);
    const { publicKeyPem, manifest } = await signOffline(dir, image, '1.0.0');
    await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem });
    const flipped = Buffer.from(image);
    flipped[2000]! ^= 0x01;
    expectProblem(await uploadImage(baton, flipped, {}, { manifest }), 400, 'ImageDigestMismatch');
    expectProblem(await uploadImage(baton, image, { sequence: 5 }, { manifest }), 400, 'InvalidRequest');
    expectProblem(await uploadImage(baton, image, { version: '9.9.9' }, { manifest }), 400, 'InvalidRequest');
    expect((await baton.api('GET', '/api/v1/firmware')).body.items).toEqual([]);
  });

  it('rotates keys: a retired key signs nothing new, and its firmware shows as untrusted', async () => {
    const baton = await startBaton();
    const dir = tempDir();
    const image = randomImage(3000);
    const { publicKeyPem, manifest } = await signOffline(dir, image, '2.0.0');
    const { keyId } = (await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem })).body;
    const up = await uploadImage(baton, image, {}, { manifest });

    const retired = await baton.api('DELETE', `/api/v1/firmware/keys/${keyId}`);
    expect(retired.status).toBe(200);
    expect(retired.body.retiredAt).toEqual(expect.any(String));
    expect((await trustedKeys(baton)).map((k) => k.keyId)).not.toContain(keyId);
    expect((await baton.api('GET', `/api/v1/firmware/${up.body.id}`)).body.status).toBe('untrusted');
    expectProblem(await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem }), 409, 'Conflict');

    const other = await signOffline(tempDir(), randomImage(3000), '2.0.1');
    expectProblem(await uploadImage(baton, randomImage(1), {}, { manifest: other.manifest }), 400, 'UntrustedKey');
  });

  it('validates keys: never a private key, and a claimed id must be the derived one', async () => {
    const baton = await startBaton();
    const dir = tempDir();
    await runBatonCli(['firmware', 'keygen', '--out', 'k.pem', '--alg', 'EdDSA'], dir);
    const privatePem = await readFile(join(dir, 'k.pem'), 'utf8');
    expectProblem(await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem: privatePem }), 400, 'InvalidRequest');
    expectProblem(await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem: 'nope' }), 400, 'InvalidRequest');
    const keygen = await runBatonCli(['firmware', 'keygen', '--out', 'k2.pem'], dir);
    const publicKeyPem = keygen.stdout.slice(keygen.stdout.indexOf('-----BEGIN'));
    expectProblem(await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem, keyId: '0123456789abcdef' }), 400, 'InvalidRequest');
    expectProblem(await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem, algorithm: 'EdDSA' }), 400, 'InvalidRequest');
    expect((await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem })).status).toBe(201);
    expect((await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem })).status).toBe(200);
    const operator = (await baton.api('POST', '/api/v1/tokens', { name: 'o', role: 'operator' })).body.token as string;
    expectProblem(await baton.api('POST', '/api/v1/firmware/keys', { publicKeyPem: 'x' }, operator), 403, 'Forbidden');
    expectProblem(await baton.api('DELETE', '/api/v1/firmware/keys/unknown'), 404, 'NotFound');
  });

  it('keeps the server key across restarts and lists it for devices to pin', async () => {
    const baton = await startBaton();
    const before = await trustedKeys(baton);
    const restarted = await baton.restart();
    expect(await trustedKeys(restarted)).toEqual(before);
    expect((await restarted.api('GET', '/api/v1/firmware/keys')).body.items[0]).toMatchObject({ source: 'server', retiredAt: null });
  });
});
