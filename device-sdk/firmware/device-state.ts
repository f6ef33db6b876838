/**
 * The device's small firmware state file: the counters that make replay and rollback detectable
 * (RFC 9124 REQ.SEC.SEQUENCE, MCUboot security counter), the trusted time, and which download is
 * in progress. Which of its blocks are done is not here but in the bitmap file beside the slot
 * (download-assembler.ts): this file is written when a manifest is accepted (a download starts or
 * resumes) and when a download ends, never once a block.
 *
 * State changes are pure functions returning a new state; `createStateFile` persists one
 * atomically, so a power cut never leaves counters half-written (which would fail open).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BatonError } from '../protocol/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import type { FirmwareManifest } from './manifest.js';

const partialDownloadSchema = z.strictObject({
  firmwareId: z.string(),
  /** The signed manifest exactly as received, re-verified on resume rather than trusted from disk. */
  manifest: z.string(),
});

const counters = {
  installedSequence: z.int().min(0),
  installedSecurityCounter: z.int().min(0),
  /** Highest `issuedAt` ever accepted, ms since epoch; only ever increases. */
  trustedTime: z.int().min(0),
};

const deviceFirmwareStateSchema = z.strictObject({
  formatVersion: z.literal(2),
  ...counters,
  download: partialDownloadSchema.nullable(),
});

/**
 * Format 1, written by SDKs that kept the block bitmap in this file. Read so a device updated
 * mid-download keeps its counters and trusted time (losing them would re-open rollback); its
 * download restarts from the first block, as no bitmap file vouches for the slot.
 */
const formatVersion1Schema = z
  .strictObject({
    formatVersion: z.literal(1),
    ...counters,
    download: z.strictObject({ firmwareId: z.string(), manifest: z.string(), blockCount: z.int(), verifiedBlocks: z.string() }).nullable(),
  })
  .transform(({ download, ...rest }): DeviceFirmwareState => ({
    ...rest,
    formatVersion: 2,
    download: download && { firmwareId: download.firmwareId, manifest: download.manifest },
  }));

const storedStateSchema = z.union([deviceFirmwareStateSchema, formatVersion1Schema]);

export type DeviceFirmwareState = z.infer<typeof deviceFirmwareStateSchema>;

export const initialDeviceState: DeviceFirmwareState = Object.freeze({
  formatVersion: 2,
  installedSequence: 0,
  installedSecurityCounter: 0,
  trustedTime: 0,
  download: null,
});

/**
 * After `verifyManifest` accepted `manifest`: raise the trusted time to its `issuedAt` (never
 * lower it) and make it the download in progress. Accepting the one in progress again keeps its
 * blocks: they are in the bitmap file, which is bound to the chunk table, not to this state.
 */
export function withAcceptedManifest(
  state: DeviceFirmwareState,
  manifest: FirmwareManifest,
  signedManifest: string,
): DeviceFirmwareState {
  return {
    ...state,
    trustedTime: Math.max(state.trustedTime, Date.parse(manifest.issuedAt)),
    download: { firmwareId: manifest.firmwareId, manifest: signedManifest },
  };
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
      const parsed = storedStateSchema.safeParse(safeJson(text));
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
