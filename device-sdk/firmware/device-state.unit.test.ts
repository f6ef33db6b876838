import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatonError } from '../protocol/errors.js';
import { BlockBitmap } from './bitmap.js';
import {
  createStateFile,
  initialDeviceState,
  verifiedBlocksOf,
  withAcceptedManifest,
  withInstalled,
  withProgress,
} from './device-state.js';
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

  it('starts a download with an empty bitmap, and keeps progress when the same manifest is accepted again', () => {
    const started = withAcceptedManifest(initialDeviceState, manifest, 'jws-a');
    expect(started.download).toMatchObject({ firmwareId: manifest.firmwareId, manifest: 'jws-a', blockCount: 4 });
    const bitmap = verifiedBlocksOf(started.download!);
    bitmap.set(2);
    const progressed = withProgress(started, bitmap);
    expect(verifiedBlocksOf(withAcceptedManifest(progressed, manifest, 'jws-a').download!).has(2)).toBe(true);
    expect(verifiedBlocksOf(withAcceptedManifest(progressed, older, 'jws-b').download!).verifiedCount).toBe(0);
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

  it('refuses a corrupt file instead of resetting the counters', async () => {
    const path = join(tmp(), 'fw.json');
    await writeFile(path, '{"formatVersion":1,"installedSequence":');
    await expect(createStateFile(path).load()).rejects.toMatchObject({ code: 'InvalidRequest' });
  });
});

describe('BlockBitmap', () => {
  it('round-trips through base64 and lists missing runs, at most 64 blocks a request', () => {
    const bitmap = new BlockBitmap(200);
    for (const i of [0, 1, 2, 5, 70]) bitmap.set(i);
    const copy = BlockBitmap.fromBase64(200, bitmap.toBase64());
    expect(copy.verifiedCount).toBe(5);
    expect(copy.missingRuns()).toEqual([[3, 2], [6, 62]]);
    expect(copy.missingRuns(10)).toEqual([[3, 2], [6, 8]]);
  });

  it('refuses an index outside the image', () => {
    expect(() => new BlockBitmap(8).set(8)).toThrow(BatonError);
  });
});
