import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStateFile, initialDeviceState, withAcceptedManifest, withInstalled } from './device-state.js';
import { makeImage, useTempDir, manifestFor } from './test-fixtures.js';

const image = makeImage(4000);
const manifest = manifestFor(image, { keyId: 'k1', issuedAt: '2025-06-01T00:00:00.000Z', sequence: 11 });
const older = manifestFor(image, { keyId: 'k1', issuedAt: '2025-01-01T00:00:00.000Z', version: '1.9.0' });

describe('device state transitions', () => {
  it('raises the trusted time to the accepted issuedAt and never lowers it', () => {
    const accepted = withAcceptedManifest(initialDeviceState, manifest, 'jws-a');
    expect(accepted.trustedTime).toBe(Date.parse(manifest.issuedAt));
    expect(withAcceptedManifest(accepted, older, 'jws-b').trustedTime).toBe(Date.parse(manifest.issuedAt));
  });

  it('makes the accepted manifest the download in progress, exactly as received', () => {
    const started = withAcceptedManifest(initialDeviceState, manifest, 'jws-a');
    expect(started.download).toEqual({ firmwareId: manifest.firmwareId, manifest: 'jws-a' });
    expect(withAcceptedManifest(started, older, 'jws-b').download).toEqual({ firmwareId: older.firmwareId, manifest: 'jws-b' });
  });

  it('moves the counters forward on install and ends the download', () => {
    const installed = withInstalled(withAcceptedManifest(initialDeviceState, manifest, 'jws-a'), manifest);
    expect(installed).toMatchObject({ installedSequence: 11, installedSecurityCounter: 3, download: null });
  });
});

describe('createStateFile', () => {
  const tmp = useTempDir();

  it('loads the initial state when there is no file', async () => {
    expect(await createStateFile(join(tmp(), 'fw.json')).load()).toEqual(initialDeviceState);
  });

  it('saves atomically with mode 0600 and loads the same state back, leaving no temp files', async () => {
    const path = join(tmp(), 'fw.json');
    const file = createStateFile(path);
    const state = withAcceptedManifest(initialDeviceState, manifest, 'jws-a');
    await file.save(state);
    await file.save(withInstalled(state, manifest));
    expect(await file.load()).toEqual(withInstalled(state, manifest));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(tmp())).toEqual(['fw.json']);
  });

  it('reads a format 1 file (block bitmap inside) keeping counters, trusted time and the download, not its bits', async () => {
    const path = join(tmp(), 'fw.json');
    const v1 = {
      formatVersion: 1,
      installedSequence: 7,
      installedSecurityCounter: 2,
      trustedTime: 1_750_000_000_000,
      download: { firmwareId: 'fw-1', manifest: 'jws-a', blockCount: 4, verifiedBlocks: 'Bw==' },
    };
    await writeFile(path, JSON.stringify(v1));
    const file = createStateFile(path);
    const migrated = await file.load();
    expect(migrated).toEqual({ ...v1, formatVersion: 2, download: { firmwareId: 'fw-1', manifest: 'jws-a' } });
    await file.save(migrated);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(migrated);
    await writeFile(path, JSON.stringify({ ...v1, download: null }));
    expect((await file.load()).download).toBeNull();
  });

  it('refuses a corrupt file instead of resetting the counters', async () => {
    const path = join(tmp(), 'fw.json');
    await writeFile(path, '{"formatVersion":2,"installedSequence":');
    await expect(createStateFile(path).load()).rejects.toMatchObject({ code: 'InvalidRequest' });
    await writeFile(path, JSON.stringify({ formatVersion: 3, installedSequence: 0, installedSecurityCounter: 0, trustedTime: 0, download: null }));
    await expect(createStateFile(path).load()).rejects.toMatchObject({ code: 'InvalidRequest' });
  });
});
