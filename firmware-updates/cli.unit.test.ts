import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DownloadAssembler } from '../device-sdk/firmware/download-assembler.js';
import { makeImage, useTempDir, sha256Hex } from '../device-sdk/firmware/test-fixtures.js';
import { verifyManifest } from '../device-sdk/firmware/verify-manifest.js';
import { createArtifactStore } from './artifact-store.js';
import { runCli } from './cli.js';
import { Keyring, type KeyRecord } from './keyring.js';
import { signingKeyFromPem } from './signing-keys.js';

const NOW = Date.parse('2025-06-10T12:00:00Z');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l), now: () => NOW } };
}

describe('baton firmware CLI', () => {
  const tmp = useTempDir();
  const at = (name: string) => join(tmp(), name);
  const image = makeImage(50_000);

  beforeEach(() => writeFile(at('image.bin'), image));

  async function keygen(name: string, alg = 'ES256'): Promise<KeyRecord> {
    const { io, out } = capture();
    expect(await runCli(['firmware', 'keygen', '--out', at(name), '--alg', alg], io)).toBe(0);
    const key = signingKeyFromPem(await readFile(at(name), 'utf8'));
    expect(out.join('\n')).toBe(`keyId: ${key.keyId}\nalgorithm: ${alg}\n${key.publicKeyPem.trimEnd()}`);
    return { keyId: key.keyId, algorithm: key.algorithm, publicKeyPem: key.publicKeyPem };
  }

  const signArgs = (key: string, ...extra: string[]) =>
    ['firmware', 'sign', '--key', at(key), '--device-class', 'sensor-v2', '--version', '2.1.0+build.7', ...extra, at('image.bin')];

  it('keygen writes a 0600 key, and refuses to overwrite it', async () => {
    await keygen('k.pem', 'EdDSA');
    expect((await stat(at('k.pem'))).mode & 0o777).toBe(0o600);
    const { io, err } = capture();
    expect(await runCli(['firmware', 'keygen', '--out', at('k.pem')], io)).toBe(1);
    expect(err[0]).toBe('error: the output file already exists');
  });

  it('signs offline; the broker keyring and the device both accept the manifest, and the image assembles', async () => {
    const record = await keygen('k.pem');
    const args = signArgs('k.pem', '--sequence', '42', '--security-counter', '3', '--chunk-size', '1024');
    expect(await runCli([...args, '--expires-at', '2025-12-31T00:00:00Z', '--out', at('m.jws')], capture().io)).toBe(0);
    const jws = await readFile(at('m.jws'), 'utf8');

    const manifest = new Keyring([record]).verify(jws);
    expect(manifest).toMatchObject({
      firmwareId: `sensor-v2-2.1.0_build.7-${sha256Hex(image).slice(0, 16)}`,
      version: '2.1.0+build.7',
      sequence: 42,
      securityCounter: 3,
      size: image.length,
      sha256: sha256Hex(image),
      chunkSize: 1024,
      issuedAt: '2025-06-10T12:00:00.000Z',
      expiresAt: '2025-12-31T00:00:00.000Z',
      keyId: record.keyId,
    });
    const device = {
      deviceClass: 'sensor-v2',
      installedSequence: 41,
      installedSecurityCounter: 3,
      trustedTime: 0,
      freeBytes: 1 << 20,
      now: () => NOW,
    };
    expect(verifyManifest(jws, [record], device)).toEqual(manifest);

    // What the broker will do over MQTT: store the image, serve the chunk table and blocks.
    const store = createArtifactStore({ dataDir: at('data') });
    const stored = await store.put(createReadStream(at('image.bin')), { chunkSize: manifest.chunkSize });
    const reader = await store.openReader(stored.sha256);
    const assembler = await DownloadAssembler.open({
      path: at('slot.bin'),
      manifest,
      chunkTable: await store.chunkTable(stored.sha256, manifest.chunkSize),
    });
    for (let runs = assembler.missingRuns(); runs.length > 0; runs = assembler.missingRuns()) {
      for (const [first, count] of runs) {
        for (let i = first; i < first + count; i++) await assembler.accept(i, await reader.readBlock(i, manifest.chunkSize));
      }
    }
    await assembler.finish();
    await Promise.all([assembler.close(), reader.close()]);
    expect(await readFile(at('slot.bin'))).toEqual(image);
  });

  it('uses defaults: sequence from the clock, counter 0, 90-day expiry, 4 KiB chunks, manifest beside the image', async () => {
    const record = await keygen('k.pem', 'EdDSA');
    expect(await runCli(signArgs('k.pem'), capture().io)).toBe(0);
    const manifest = new Keyring([record]).verify(await readFile(at('image.bin.manifest.jws')));
    expect(manifest).toMatchObject({
      sequence: NOW / 1000,
      securityCounter: 0,
      chunkSize: 4096,
      expiresAt: new Date(NOW + 90 * 24 * 3600 * 1000).toISOString(),
    });
  });

  it('a manifest signed offline with a key the broker does not trust is refused with UntrustedKey', async () => {
    const trusted = await keygen('trusted.pem');
    await keygen('rogue.pem');
    expect(await runCli([...signArgs('rogue.pem'), '--out', at('m.jws')], capture().io)).toBe(0);
    const jws = await readFile(at('m.jws'), 'utf8');
    expect(() => new Keyring([trusted]).verify(jws)).toThrowError(expect.objectContaining({ code: 'UntrustedKey' }));
  });

  it.each([
    ['an unknown command', ['firmware', 'flash'], 2],
    ['a missing --device-class', ['firmware', 'sign', '--key', 'k.pem', '--version', 'v', 'image.bin'], 2],
    ['an unknown option', ['firmware', 'keygen', '--out', 'x.pem', '--bits', '4096'], 2],
    ['an unsupported algorithm', ['firmware', 'keygen', '--out', 'x.pem', '--alg', 'RS256'], 2],
    ['no image', ['firmware', 'sign', '--key', 'k.pem', '--device-class', 'c', '--version', 'v'], 2],
  ])('exits 2 with usage on %s', async (_name, argv, code) => {
    const { io, err } = capture();
    expect(await runCli(argv, io)).toBe(code);
    expect(err.join('\n')).toContain('usage:');
  });

  it.each([
    ['a bad --expires-at', ['--expires-at', 'tomorrow'], 2, 'usage:'],
    ['a negative --sequence', ['--sequence', '-1'], 2, 'usage:'],
    ['a chunk size out of range', ['--chunk-size', '100'], 2, 'usage:'],
    ['an expiry before issuance', ['--expires-at', '2020-01-01T00:00:00Z'], 1, 'error: InvalidRequest'],
  ])('refuses %s', async (_name, extra, code, message) => {
    await keygen('k.pem');
    const { io, err } = capture();
    expect(await runCli(signArgs('k.pem', ...extra), io)).toBe(code);
    expect(err.join('\n')).toContain(message);
  });
});
