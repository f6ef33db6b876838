/**
 * The device's small firmware state file: the counters that make replay and rollback detectable
 * (RFC 9124 REQ.SEC.SEQUENCE, MCUboot security counter), the trusted time, and the partial download.
 *
 * State changes are pure functions returning a new state; `createStateFile` persists one
 * atomically, so a power cut never leaves counters half-written (which would fail open).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BatonError } from '../protocol/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { BlockBitmap } from './bitmap.js';
import { blockCount, type FirmwareManifest } from './manifest.js';

const partialDownloadSchema = z.strictObject({
  firmwareId: z.string(),
  /** The signed manifest exactly as received, re-verified on resume rather than trusted from disk. */
  manifest: z.string(),
  blockCount: z.int().min(1),
  /** Base64 bitmap of blocks verified and synced to storage. */
  verifiedBlocks: z.string(),
});

const deviceFirmwareStateSchema = z.strictObject({
  formatVersion: z.literal(1),
  installedSequence: z.int().min(0),
  installedSecurityCounter: z.int().min(0),
  /** Highest `issuedAt` ever accepted, ms since epoch; only ever increases. */
  trustedTime: z.int().min(0),
  download: partialDownloadSchema.nullable(),
});

export type PartialDownload = z.infer<typeof partialDownloadSchema>;
export type DeviceFirmwareState = z.infer<typeof deviceFirmwareStateSchema>;

export const initialDeviceState: DeviceFirmwareState = Object.freeze({
  formatVersion: 1,
  installedSequence: 0,
  installedSecurityCounter: 0,
  trustedTime: 0,
  download: null,
});

/**
 * After `verifyManifest` accepted `manifest`: raise the trusted time to its `issuedAt` (never
 * lower it) and start, or keep resuming, its download.
 */
export function withAcceptedManifest(
  state: DeviceFirmwareState,
  manifest: FirmwareManifest,
  signedManifest: string,
): DeviceFirmwareState {
  const trustedTime = Math.max(state.trustedTime, Date.parse(manifest.issuedAt));
  if (state.download?.firmwareId === manifest.firmwareId && state.download.manifest === signedManifest) {
    return { ...state, trustedTime };
  }
  const blocks = blockCount(manifest.size, manifest.chunkSize);
  const download: PartialDownload = {
    firmwareId: manifest.firmwareId,
    manifest: signedManifest,
    blockCount: blocks,
    verifiedBlocks: new BlockBitmap(blocks).toBase64(),
  };
  return { ...state, trustedTime, download };
}

/** Records the blocks verified so far of the current download. */
export function withProgress(state: DeviceFirmwareState, verified: BlockBitmap): DeviceFirmwareState {
  if (!state.download) throw new BatonError('Conflict', 'No download is in progress.');
  return { ...state, download: { ...state.download, verifiedBlocks: verified.toBase64() } };
}

/** After the new image booted and confirmed itself: the counters move forward, the download ends. */
export function withInstalled(state: DeviceFirmwareState, manifest: FirmwareManifest): DeviceFirmwareState {
  return {
    ...state,
    installedSequence: Math.max(state.installedSequence, manifest.sequence),
    installedSecurityCounter: Math.max(state.installedSecurityCounter, manifest.securityCounter),
    download: null,
  };
}

/** The bitmap of the current download, as persisted. */
export function verifiedBlocksOf(download: PartialDownload): BlockBitmap {
  return BlockBitmap.fromBase64(download.blockCount, download.verifiedBlocks);
}

export interface StateFile {
  /** The persisted state; the initial state if there is no file yet. */
  load(): Promise<DeviceFirmwareState>;
  save(state: DeviceFirmwareState): Promise<void>;
}

export function createStateFile(path: string): StateFile {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...initialDeviceState };
        throw err;
      }
      // A corrupt file must not silently reset the counters to zero: that would re-open rollback.
      const parsed = deviceFirmwareStateSchema.safeParse(safeJson(text));
      if (!parsed.success) throw new BatonError('InvalidRequest', `The firmware state file ${path} is corrupt.`);
      return parsed.data;
    },
    async save(state) {
      await writeFileAtomic(path, JSON.stringify(deviceFirmwareStateSchema.parse(state)), { mode: 0o600 });
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
