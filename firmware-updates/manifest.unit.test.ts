import { describe, expect, it } from 'vitest';
import { makeImage, sha256Hex } from '../device-sdk/firmware/test-fixtures.js';
import { ImageDigester } from './chunk-table.js';
import { buildManifest, checkManifestMatchesImage, deriveFirmwareId, encodeManifest, parseManifest } from './manifest.js';

const digestOf = (image: Buffer, chunkSize = 4096) => {
  const digester = new ImageDigester(chunkSize);
  digester.update(image);
  return digester.digest();
};

const image = makeImage(10_000);
const input = {
  deviceClass: 'sensor-v2',
  version: '2.1.0',
  sequence: 7,
  securityCounter: 1,
  image: digestOf(image),
  keyId: '0123456789abcdef',
  issuedAt: new Date('2025-06-01T00:00:00Z'),
  expiresAt: new Date('2025-09-01T00:00:00Z'),
};

describe('manifest', () => {
  it('builds a manifest whose encoding parses back to itself', () => {
    const manifest = buildManifest(input);
    expect(manifest.firmwareId).toBe(`sensor-v2-2.1.0-${sha256Hex(image).slice(0, 16)}`);
    expect(parseManifest(JSON.parse(new TextDecoder().decode(encodeManifest(manifest))))).toEqual(manifest);
  });

  it.each([
    ['sensor-v2', '1.0.0 (beta)+exp/7#', /^sensor-v2-1\.0\.0__beta__exp_7_-[0-9a-f]{16}$/],
    ['a'.repeat(64), 'v'.repeat(64), /^a{64}-v{40}-[0-9a-f]{16}$/],
  ])('derives a firmware id that is one safe topic level (%s, %s)', (deviceClass, version, pattern) => {
    const id = deriveFirmwareId(deviceClass, version, sha256Hex(image));
    expect(id).toMatch(pattern);
    expect(id).toMatch(/^[A-Za-z0-9_.:-]{1,128}$/);
  });

  it.each([
    ['a chunk size below 256', { image: digestOf(image, 128) }],
    ['a chunk size above 128 KiB', { image: { ...digestOf(image), chunkSize: 131_073 } }],
    ['expiry not after issuance', { expiresAt: new Date('2025-06-01T00:00:00Z') }],
    ['a negative sequence', { sequence: -1 }],
    ['a fractional security counter', { securityCounter: 1.5 }],
    ['a device class with a slash', { deviceClass: 'a/b' }],
  ])('refuses %s with InvalidRequest', (_name, over) => {
    expect(() => buildManifest({ ...input, ...over })).toThrowError(expect.objectContaining({ code: 'InvalidRequest' }));
  });

  it('refuses a manifest whose firmwareId is not the derived one', () => {
    const manifest = { ...buildManifest(input), firmwareId: 'chosen-by-attacker' };
    expect(() => parseManifest(manifest)).toThrowError(expect.objectContaining({ code: 'InvalidRequest' }));
  });

  it('checks that a manifest describes a stored image', () => {
    const manifest = buildManifest(input);
    expect(() => checkManifestMatchesImage(manifest, digestOf(image))).not.toThrow();
    expect(() => checkManifestMatchesImage(manifest, digestOf(makeImage(10_000)))).toThrowError(
      expect.objectContaining({ code: 'ImageDigestMismatch' }),
    );
    expect(() => checkManifestMatchesImage(manifest, digestOf(image, 1024))).toThrowError(
      expect.objectContaining({ code: 'ChunkTableMismatch' }),
    );
  });
});
