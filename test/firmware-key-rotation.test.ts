/**
 * Rotating the broker's own signing key (`POST /api/v1/firmware/keys/rotate`), end to end on a
 * real broker with the service's injected clock: the new key is listed first and signs every new
 * manifest and config envelope; a device that pins both keys downloads firmware signed by either;
 * the old key survives a restart and retires by itself once the last manifest it signed expires,
 * after which devices that pin the listed keys refuse what it signed.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink } from '../device-sdk/firmware/link.js';
import type { TrustedKey } from '../device-sdk/firmware/manifest.js';
import { codeOf } from '../device-sdk/firmware/test-fixtures.js';
import { openConfigEnvelope } from '../device-sdk/protocol/jobs.js';
import { deviceOfClass, entitle, randomImage, signedManifest, tempDir, trustedKeys, uploadImage } from './helpers/firmware.js';
import { jobsDevice } from './helpers/jobs.js';
import type { TestBaton } from './helpers/service.js';
import { startBaton } from './helpers/service.js';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const kidOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()).kid as string;
const keyIds = async (baton: TestBaton, query = '') => (await baton.api('GET', `/api/v1/firmware/keys${query}`)).body.items.map((k: { keyId: string }) => k.keyId);

describe('rotating the broker signing key', () => {
  it('signs with the new key at once, keeps the old one trusted until its manifests expire, then retires it', async () => {
    // The broker's clock runs with real time (pacing and admission need time to pass) and jumps
    // ahead on demand; it starts at the real time because the device SDK checks expiry on its own.
    let skew = 0;
    const clock = () => Date.now() + skew;
    let baton = await startBaton({ jobsConfigTtlS: 600 }, { clock });
    const start = clock();
    const [oldKey] = await keyIds(baton);
    const old = (await uploadImage(baton, randomImage(8 * 256), { deviceClass: 'sensor', version: '1.0.0', chunkSize: 256, expiresAt: iso(start + 2 * HOUR) })).body;
    expect(old.keyId).toBe(oldKey);

    const rotation = await baton.api('POST', '/api/v1/firmware/keys/rotate');
    expect(rotation.status).toBe(201);
    const newKey: string = rotation.body.key.keyId;
    expect(newKey).not.toBe(oldKey);
    expect(rotation.body).toMatchObject({
      key: { source: 'server', algorithm: 'ES256', retiredAt: null, retiresAt: null },
      // The last manifest it signed outlives the config envelopes it signed (10 min).
      previous: { keyId: oldKey, retiredAt: null, retiresAt: iso(start + 2 * HOUR) },
    });
    expect(await keyIds(baton)).toEqual([newKey, oldKey]);

    const fresh = (await uploadImage(baton, randomImage(8 * 256), { deviceClass: 'sensor', version: '2.0.0', chunkSize: 256 })).body;
    expect([fresh.keyId, kidOf(await signedManifest(baton, fresh.id))]).toEqual([newKey, newKey]);
    const configDevice = await jobsDevice(baton, 'cfg-1');
    await baton.api('POST', '/api/v1/jobs', { id: 'cfg', type: 'config', config: { mode: 'eco' }, targets: { devices: ['cfg-1'] }, rollout: { maxPerMinute: 60_000 } });
    const envelope: string = (await configDevice.notified(1)).execution.jobDocument.envelope;
    expect(kidOf(envelope)).toBe(newKey);
    const pinned = await trustedKeys(baton);
    expect(openConfigEnvelope(envelope, { trustedKeys: pinned, deviceId: 'cfg-1', jobId: 'cfg', now: clock() }).config).toEqual({ mode: 'eco' });

    // A device that pins both keys downloads firmware signed by either, over the real broker.
    const device = await deviceOfClass(baton, 'dev-1', 'sensor');
    const download = (manifest: string, keys: readonly TrustedKey[]) => {
      const dir = tempDir();
      return downloadFirmware(manifest, {
        link: mqttJsLink(device.client), deviceId: 'dev-1', deviceClass: 'sensor', trustedKeys: keys, freeBytes: 1 << 30,
        statePath: join(dir, 'state.json'), dir: join(dir, 'slot'), timing: { stallTimeoutMs: 2000 },
      });
    };
    await entitle(baton, old.id, ['dev-1']);
    await entitle(baton, fresh.id, ['dev-1']);
    const oldManifest = await signedManifest(baton, old.id);
    expect((await download(oldManifest, pinned)).manifest.keyId).toBe(oldKey);
    expect((await download(await signedManifest(baton, fresh.id), pinned)).manifest.keyId).toBe(newKey);

    // A restart during the overlap keeps both the signing key and the retirement.
    baton = await baton.restart();
    expect(await keyIds(baton)).toEqual([newKey, oldKey]);
    expect((await uploadImage(baton, randomImage(256), { deviceClass: 'sensor', version: '3.0.0', chunkSize: 256 })).body.keyId).toBe(newKey);

    skew = 2 * HOUR;
    expect(await keyIds(baton)).toEqual([newKey]);
    expect((await baton.api('GET', '/api/v1/firmware/keys?includeRetired=true')).body.items).toEqual([
      expect.objectContaining({ keyId: newKey, retiredAt: null }),
      expect.objectContaining({ keyId: oldKey, retiredAt: iso(start + 2 * HOUR), retiresAt: iso(start + 2 * HOUR) }),
    ]);
    expect((await baton.api('GET', `/api/v1/firmware/${old.id}`)).body.status).toBe('untrusted');
    expect((await baton.api('GET', `/api/v1/firmware/${fresh.id}`)).body.status).toBe('active');
    const repinned = await trustedKeys(baton);
    expect(await codeOf(() => download(oldManifest, repinned))).toBe('UntrustedKey');
    expect(await keyIds(await baton.restart(), '?includeRetired=true')).toEqual([newKey, oldKey]);
  });

  it('a retired broker key can be rotated away; a bad algorithm is refused with a stable code', async () => {
    const baton = await startBaton();
    const [own] = await keyIds(baton);
    expect((await baton.api('DELETE', `/api/v1/firmware/keys/${own}`)).status).toBe(200);
    expect((await uploadImage(baton, randomImage(256), { deviceClass: 'sensor', version: '1.0.0' })).body.code).toBe('Conflict');

    expect((await baton.api('POST', '/api/v1/firmware/keys/rotate', { algorithm: 'RS256' })).body.code).toBe('InvalidRequest');
    const rotation = await baton.api('POST', '/api/v1/firmware/keys/rotate', { algorithm: 'EdDSA' });
    expect(rotation.body).toMatchObject({ key: { algorithm: 'EdDSA' }, previous: { keyId: own, retiredAt: expect.any(String), retiresAt: null } });
    const upload = await uploadImage(baton, randomImage(256), { deviceClass: 'sensor', version: '1.0.0' });
    expect([upload.status, upload.body.keyId]).toEqual([201, rotation.body.key.keyId]);
    expect(await keyIds(baton)).toEqual([rotation.body.key.keyId]);
  });
});
