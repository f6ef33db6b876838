import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStateFile } from './device-state.js';
import { downloadFirmware } from './download.js';
import type { FirmwareLink } from './link.js';
import { makeImage, makeTestKey, manifestFor, signTestManifest, useTempDir } from './test-fixtures.js';

const key = makeTestKey('EdDSA');
const image = makeImage(4096);
const manifest = manifestFor(image, { keyId: key.trusted.keyId });
const signed = signTestManifest(manifest, key);

/** A link whose broker never answers; the download is stopped as soon as it asks for the chunk table. */
function silentLink(stop: AbortController): FirmwareLink {
  return {
    onTopic: async () => async () => undefined,
    publish: async () => stop.abort(new Error('stopped by the test')),
  };
}

describe('downloadFirmware before the first block', () => {
  const tmp = useTempDir();

  it('reads a format 1 state file (device updated mid-download) and removes the abandoned download of another firmware', async () => {
    const statePath = join(tmp(), 'firmware-state.json');
    const dir = join(tmp(), 'slot');
    const v1 = {
      formatVersion: 1,
      installedSequence: 7,
      installedSecurityCounter: 2,
      trustedTime: Date.parse('2025-05-01T00:00:00.000Z'),
      download: { firmwareId: 'old-fw', manifest: 'jws-of-old-fw', blockCount: 3, verifiedBlocks: 'Bw==' },
    };
    await writeFile(statePath, JSON.stringify(v1));
    await mkdir(dir);
    await writeFile(join(dir, 'old-fw.bin'), Buffer.alloc(3000));
    await writeFile(join(dir, 'old-fw.bin.bitmap'), Buffer.alloc(41));

    const stop = new AbortController();
    await expect(
      downloadFirmware(signed, {
        link: silentLink(stop),
        deviceId: 'dev-1',
        trustedKeys: [key.trusted],
        deviceClass: manifest.deviceClass,
        freeBytes: 1 << 20,
        statePath,
        dir,
        signal: stop.signal,
        wallClock: () => Date.parse('2025-06-02T00:00:00.000Z'),
      }),
    ).rejects.toThrow('stopped by the test');

    expect(await readdir(dir)).toEqual([]); // the new download stopped before its slot was made
    expect(await createStateFile(statePath).load()).toEqual({
      formatVersion: 2,
      installedSequence: 7,
      installedSecurityCounter: 2,
      trustedTime: Date.parse(manifest.issuedAt),
      download: { firmwareId: manifest.firmwareId, manifest: signed },
    });
    expect(JSON.parse(await readFile(statePath, 'utf8')).formatVersion).toBe(2);
  });
});
