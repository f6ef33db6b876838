/**
 * `downloadFirmware(manifestBytes, options)`: the device side of an update, fail closed, in the
 * order the spec gives (RFC 9124's checks, TUF's freshness, MCUboot's counter):
 *
 *   1–4. verify the manifest: size, signature with pinned keys, schema, freshness, replay,
 *        rollback, device class, fit                                     (verify-manifest.ts)
 *   5.   persist the download state, then fetch and check the chunk table, then fetch the
 *        blocks, verifying each before it is written and marking it done in the bitmap file
 *        right after (synced at most once per `syncIntervalMs`: download-assembler.ts)
 *   6.   check the whole image's SHA-256; return its path for the app's installer
 *
 * It resumes after a disconnect (asks again for what was in flight) and after a process restart
 * (call it again with the same manifest: the bitmap file says which blocks are done). After the
 * new image booted and confirmed itself, the app records it with `recordInstalled`, which moves
 * the anti-replay and anti-rollback counters forward.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../clock.js';
import { BatonError } from '../protocol/errors.js';
import type { BlockBitmap } from './bitmap.js';
import { BlockFetcher } from './block-fetcher.js';
import { createStateFile, withAcceptedManifest, withInstalled } from './device-state.js';
import { bitmapPathOf, defaultSyncIntervalMs, DownloadAssembler } from './download-assembler.js';
import { fetchChunkTable } from './fetch-chunk-table.js';
import { defaultFetchTiming, type FetchTiming } from './fetch-timing.js';
import type { FirmwareLink } from './link.js';
import type { FirmwareManifest, TrustedKey } from './manifest.js';
import { StreamSession } from './stream-session.js';
import { verifyManifest } from './verify-manifest.js';

export interface DownloadProgress {
  /** Verified bytes and blocks stored so far (resumed ones included). */
  bytes: number;
  size: number;
  blocks: number;
  blockCount: number;
  /** Verified bytes per second stored by this run. */
  bytesPerSec: number;
  /** The block just stored. */
  block: number;
}

export interface DownloadOptions {
  link: FirmwareLink;
  deviceId: string;
  /** Pinned signing keys (e.g. from `GET /api/v1/firmware/keys`, shipped with the device). */
  trustedKeys: readonly TrustedKey[];
  deviceClass: string;
  /** Bytes free for the new image (the secondary slot). */
  freeBytes: number;
  /** The device's firmware state file (counters, trusted time, partial download). */
  statePath: string;
  /** Where the image is assembled: `{dir}/{firmwareId}.bin`, its verified blocks in `{dir}/{firmwareId}.bin.bitmap`. */
  dir: string;
  onProgress?(progress: DownloadProgress): void;
  /**
   * Every block is marked done in the bitmap file as soon as it is written, so a crash of the
   * process costs only the blocks being stored; image and bitmap are synced at most once per this
   * many ms (default 1000) and at the end or on abort, so a power cut costs at most this much of
   * the download. Fewer syncs, less flash wear; more, less to fetch again after a power cut.
   */
  syncIntervalMs?: number;
  /** Stops the download; progress is kept (synced once more), and a later call resumes it. */
  signal?: AbortSignal;
  /** The device's wall clock for freshness (ms since epoch); it only ever raises the trusted time. */
  wallClock?(): number;
  timing?: Partial<FetchTiming>;
}

export interface DownloadResult {
  /** The verified image, ready for the installer. */
  path: string;
  manifest: FirmwareManifest;
}

const manifestText = (bytes: string | Uint8Array) => (typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('latin1'));

/** Steps 1–4, then the state persisted before anything is fetched (step 5's first half). */
async function accept(manifestBytes: string | Uint8Array, o: DownloadOptions) {
  const stateFile = createStateFile(o.statePath);
  const state = await stateFile.load();
  const manifest = verifyManifest(manifestBytes, o.trustedKeys, {
    deviceClass: o.deviceClass,
    freeBytes: o.freeBytes,
    installedSequence: state.installedSequence,
    installedSecurityCounter: state.installedSecurityCounter,
    trustedTime: state.trustedTime,
    now: o.wallClock ?? Date.now,
  });
  const next = withAcceptedManifest(state, manifest, manifestText(manifestBytes));
  if (state.download && state.download.firmwareId !== manifest.firmwareId) {
    await removeSlot(join(o.dir, `${state.download.firmwareId}.bin`)); // an abandoned download
  }
  await stateFile.save(next);
  return { stateFile, manifest, state: next };
}

const removeSlot = async (path: string) => {
  await rm(path, { force: true });
  await rm(bitmapPathOf(path), { force: true });
};

export async function downloadFirmware(manifestBytes: string | Uint8Array, o: DownloadOptions): Promise<DownloadResult> {
  o.signal?.throwIfAborted();
  const timing: FetchTiming = { ...defaultFetchTiming, clock: systemClock, now: () => performance.now(), ...o.timing };
  const { stateFile, manifest, state } = await accept(manifestBytes, o);
  await mkdir(o.dir, { recursive: true });
  const path = join(o.dir, `${manifest.firmwareId}.bin`);
  const session = await StreamSession.open(o.link, o.deviceId, manifest.firmwareId);
  try {
    const chunkTable = await fetchChunkTable(session, manifest, timing, o.signal);
    const sync = { intervalMs: o.syncIntervalMs ?? defaultSyncIntervalMs, clock: timing.clock, now: timing.now };
    const assembler = await DownloadAssembler.open({ path, manifest, chunkTable, sync });
    try {
      await fetchBlocks(session, manifest, assembler, timing, o);
      await checkImage(assembler, () => stateFile.save({ ...state, download: null }), path);
    } finally {
      await assembler.close();
    }
  } finally {
    await session.close();
  }
  return { path, manifest };
}

async function fetchBlocks(session: StreamSession, manifest: FirmwareManifest, assembler: DownloadAssembler, timing: FetchTiming, o: DownloadOptions) {
  const started = timing.now();
  const { verified } = assembler;
  // Counted per event rather than read from the bitmap: blocks stored in one batch are reported one by one.
  const resumed = { bytes: verifiedBytes(manifest, verified), blocks: verified.verifiedCount };
  let stored = 0;
  let storedBlocks = 0;
  const fetcher = new BlockFetcher(session, manifest, assembler, timing, (block, bytes) => {
    stored += bytes;
    storedBlocks++;
    const elapsedS = Math.max(timing.now() - started, 1) / 1000;
    o.onProgress?.({ bytes: resumed.bytes + stored, size: manifest.size, blocks: resumed.blocks + storedBlocks, blockCount: verified.blockCount, bytesPerSec: stored / elapsedS, block });
  });
  const onAbort = () => fetcher.stop(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort);
  try {
    if (o.signal?.aborted) onAbort();
    await fetcher.run();
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

function verifiedBytes({ size, chunkSize }: FirmwareManifest, verified: BlockBitmap): number {
  const last = verified.blockCount - 1;
  const shortfall = verified.has(last) ? chunkSize - (size - last * chunkSize) : 0;
  return verified.verifiedCount * chunkSize - shortfall;
}

/** Step 6. A mismatch means storage lost bytes after they were verified: start over next time. */
async function checkImage(assembler: DownloadAssembler, forgetDownload: () => Promise<void>, path: string): Promise<void> {
  try {
    await assembler.finish();
  } catch (err) {
    if (err instanceof BatonError && err.code === 'ImageDigestMismatch') {
      await forgetDownload();
      await removeSlot(path);
    }
    throw err;
  }
}

/**
 * After the new image booted and confirmed itself: the installed sequence and security counter
 * move forward (so this manifest and older ones are refused from now on) and the download ends.
 */
export async function recordInstalled(statePath: string, manifest: FirmwareManifest): Promise<void> {
  const stateFile = createStateFile(statePath);
  await stateFile.save(withInstalled(await stateFile.load(), manifest));
}
