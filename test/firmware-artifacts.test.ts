import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, importSPKI } from 'jose';
import { describe, expect, it } from 'vitest';
import { openSignedManifest } from '../device-sdk/firmware/verify-manifest.js';
import { randomImage, signedManifest, trustedKeys, uploadImage } from './helpers/firmware.js';
import { ADMIN_TOKEN, startBaton } from './helpers/service.js';

const images = (dataDir: string) => readdirSync(join(dataDir, 'firmware')).filter((f) => f.endsWith('.bin'));

const expectProblem = (res: { status: number; body: any }, status: number, code: string) => {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
};

describe('firmware artifacts over REST', () => {
  it('stores an upload, signs its manifest with the server key, and serves the signed bytes', async () => {
    const baton = await startBaton();
    const image = randomImage(10_000);
    const res = await uploadImage(baton, image, { deviceClass: 'sensor-v2', version: '2.0.0', chunkSize: 1024 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ deviceClass: 'sensor-v2', version: '2.0.0', size: 10_000, chunkSize: 1024, sequence: 1, securityCounter: 0, signedBy: 'server', status: 'active' });
    expect(res.headers.get('location')).toBe(`/api/v1/firmware/${res.body.id}`);

    const jws = await signedManifest(baton, res.body.id);
    const keys = await trustedKeys(baton);
    expect(keys).toHaveLength(1);
    const manifest = openSignedManifest(jws, keys);
    expect(manifest).toMatchObject({ firmwareId: res.body.id, size: 10_000, keyId: keys[0]!.keyId });
    // An independent implementation agrees (jose, not the SDK's verifier).
    const { payload } = await compactVerify(jws, await importSPKI(keys[0]!.publicKeyPem, 'ES256'));
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual(manifest);

    const detail = await baton.api('GET', `/api/v1/firmware/${res.body.id}`);
    expect(detail.body.manifest).toEqual(manifest);
    const list = await baton.api('GET', '/api/v1/firmware?deviceClass=sensor-v2');
    expect(list.body.items.map((f: any) => f.id)).toEqual([res.body.id]);
  });

  it('answers an identical re-upload with the existing firmware and refuses another image under the same version', async () => {
    const baton = await startBaton();
    const image = randomImage(5000);
    const first = await uploadImage(baton, image, { deviceClass: 'gw', version: '1.0.0' });
    const again = await uploadImage(baton, image, { deviceClass: 'gw', version: '1.0.0' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expectProblem(await uploadImage(baton, randomImage(5000), { deviceClass: 'gw', version: '1.0.0' }), 409, 'Conflict');
    expect(images(baton.dataDir)).toEqual([`${first.body.sha256}.bin`]);
    const next = await uploadImage(baton, randomImage(5000), { deviceClass: 'gw', version: '1.0.1' });
    expect(next.body).toMatchObject({ sequence: 2, securityCounter: 0 });
    expectProblem(await uploadImage(baton, randomImage(100), { deviceClass: 'gw', version: '0.9.0', sequence: 2 }), 409, 'Conflict');
  });

  it('refuses bad uploads with their codes', async () => {
    const baton = await startBaton({ firmwareMaxBytes: 4096 });
    expectProblem(await uploadImage(baton, randomImage(100), { version: '1' }), 400, 'InvalidRequest');
    expectProblem(await uploadImage(baton, randomImage(100), { deviceClass: 'a/b', version: '1' }), 400, 'InvalidRequest');
    expectProblem(await uploadImage(baton, randomImage(100), { deviceClass: 'c', version: '1', chunkSize: 100 }), 400, 'InvalidRequest');
    expectProblem(await uploadImage(baton, new Uint8Array(0), { deviceClass: 'c', version: '1' }), 400, 'InvalidRequest');
    expectProblem(await uploadImage(baton, randomImage(5000), { deviceClass: 'c', version: '1' }), 413, 'PayloadTooLarge');
    // Chunked and still sending, so no Content-Length announces the size: refused while streaming
    // (the answer still arrives), nothing left behind.
    let sent = 0;
    const slowly = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 5));
        if (sent++ < 20) controller.enqueue(randomImage(1000));
        else controller.close();
      },
    });
    const chunked = await fetch(`${baton.httpUrl}/api/v1/firmware?deviceClass=c&version=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/octet-stream' },
      body: slowly,
      duplex: 'half',
    } as RequestInit);
    expectProblem({ status: chunked.status, body: await chunked.json() }, 413, 'PayloadTooLarge');
    expect(readdirSync(join(baton.dataDir, 'firmware'))).toEqual([]);
    expectProblem(await uploadImage(baton, randomImage(100), { deviceClass: 'c', version: '1', expiresAt: '2000-01-01T00:00:00Z' }), 400, 'Expired');
    expectProblem(await uploadImage(baton, randomImage(100), { deviceClass: 'c', version: '1' }, { manifest: 'not.a.jws' }), 400, 'SignatureInvalid');
    const json = await baton.api('POST', '/api/v1/firmware?deviceClass=c&version=1', { image: 'no' });
    expectProblem(json, 400, 'InvalidRequest');
    expectProblem(await baton.api('GET', '/api/v1/firmware/c-1-0000000000000000'), 404, 'NotFound');
    expect((await baton.api('GET', '/api/v1/firmware')).body.items).toEqual([]);
  });

  it('deletes firmware and its image; a viewer may read but not upload', async () => {
    const baton = await startBaton();
    const viewer = (await baton.api('POST', '/api/v1/tokens', { name: 'v', role: 'viewer' })).body.token as string;
    expectProblem(await uploadImage(baton, randomImage(100), { deviceClass: 'c', version: '1' }, { token: viewer }), 403, 'Forbidden');
    const up = await uploadImage(baton, randomImage(3000), { deviceClass: 'c', version: '1' });
    expect((await baton.api('GET', `/api/v1/firmware/${up.body.id}`, undefined, viewer)).status).toBe(200);
    expect((await baton.api('DELETE', `/api/v1/firmware/${up.body.id}`)).status).toBe(204);
    expect(images(baton.dataDir)).toEqual([]);
    expectProblem(await baton.api('GET', `/api/v1/firmware/${up.body.id}`), 404, 'NotFound');
    expectProblem(await baton.api('DELETE', `/api/v1/firmware/${up.body.id}`), 404, 'NotFound');
  });

  it('deletes the chunk tables with the image, once no firmware shares it', async () => {
    const baton = await startBaton();
    const files = () => readdirSync(join(baton.dataDir, 'firmware')).sort();
    // The same bytes as two firmwares with two chunk sizes: one image, a chunk table for each size.
    const image = randomImage(10_000);
    const a = await uploadImage(baton, image, { deviceClass: 'a', version: '1', chunkSize: 1024 });
    const b = await uploadImage(baton, image, { deviceClass: 'b', version: '1', chunkSize: 4096 });
    const sha = a.body.sha256 as string;
    expect(files()).toEqual([`${sha}.1024.chunks`, `${sha}.4096.chunks`, `${sha}.bin`]);
    expect((await baton.api('DELETE', `/api/v1/firmware/${a.body.id}`)).status).toBe(204);
    expect(files()).toEqual([`${sha}.1024.chunks`, `${sha}.4096.chunks`, `${sha}.bin`]); // b still serves them
    expect((await baton.api('DELETE', `/api/v1/firmware/${b.body.id}`)).status).toBe(204);
    expect(files()).toEqual([]);
  });
});
