/**
 * An upload, in two modes. Server-signed: the broker builds the manifest from the query and signs
 * it with its own key. Offline-signed: the operator sends the signed manifest in the
 * `X-Baton-Manifest` header; the broker verifies it against its trusted keys before reading a
 * byte of the image, then checks that the image is the one the manifest describes. Either way the
 * image streams to disk (`artifact-store.ts`), never into memory.
 */
import type { Readable } from 'node:stream';
import { DEFAULT_CHUNK_SIZE, type FirmwareManifest } from '../../device-sdk/firmware/manifest.js';
import { BatonError, isBatonError } from '../../device-sdk/protocol/errors.js';
import type { ArtifactStore, StoredArtifact } from '../../firmware-updates/artifact-store.js';
import { buildManifest, checkManifestMatchesImage } from '../../firmware-updates/manifest.js';
import { signManifest } from '../../firmware-updates/signing-keys.js';
import type { KeyService } from './keys.js';
import type { FirmwareRepo, FirmwareRow, SignedBy } from './store.js';

/** The query parameters of `POST /api/v1/firmware`. */
export interface UploadParams {
  deviceClass?: string | undefined;
  version?: string | undefined;
  sequence?: number | undefined;
  securityCounter?: number | undefined;
  expiresAt?: string | undefined;
  chunkSize?: number | undefined;
}

export interface UploadDeps {
  repo: FirmwareRepo;
  keys: KeyService;
  artifacts: ArtifactStore;
  clock: () => number;
  /** Removes an image no row names any more (after a refused upload). */
  discard(sha256: string): Promise<unknown>;
  /** Keeps `discard` off an image between its arrival and its row's insert. */
  hold(sha256: string): () => void;
}

/** Same bound as `baton firmware sign`: manifests expire, so a captured one cannot be replayed forever (TUF). */
export const DEFAULT_LIFETIME_MS = 90 * 24 * 3600 * 1000;

export type UploadResult = { created: boolean; row: FirmwareRow };

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new BatonError('InvalidRequest', `${name} is required without X-Baton-Manifest.`, { fields: { [`querystring.${name}`]: 'required' } });
  return value;
}

function checkFresh(expiresAtMs: number, nowMs: number): void {
  if (!(expiresAtMs > nowMs)) throw new BatonError('Expired', 'expiresAt must be in the future: devices would refuse this manifest.');
}

/** The image, streamed to disk; the store's `TooLarge` is the HTTP 413 of a body over the limit. */
async function receive(artifacts: ArtifactStore, body: Readable, chunkSize: number, expectedSha256?: string): Promise<StoredArtifact> {
  try {
    return await artifacts.put(body, { chunkSize, ...(expectedSha256 ? { expectedSha256 } : {}) });
  } catch (err) {
    if (isBatonError(err) && err.code === 'TooLarge') throw new BatonError('PayloadTooLarge', err.message);
    throw err;
  }
}

const rowOf = (manifest: FirmwareManifest, jws: string, signedBy: SignedBy, nowMs: number): FirmwareRow => ({
  id: manifest.firmwareId,
  deviceClass: manifest.deviceClass,
  version: manifest.version,
  sha256: manifest.sha256,
  sequence: manifest.sequence,
  securityCounter: manifest.securityCounter,
  signedBy,
  manifest: jws,
  createdAt: new Date(nowMs).toISOString(),
});

/** A mode checks what it can before the body is read, then turns the stored image into a row. */
interface UploadMode {
  chunkSize: number;
  expectedSha256?: string;
  finish(image: StoredArtifact): Promise<FirmwareRow>;
}

function serverSigned(deps: UploadDeps, p: UploadParams): UploadMode {
  const deviceClass = required(p.deviceClass, 'deviceClass');
  const version = required(p.version, 'version');
  deps.keys.signingKey(); // a retired broker key is refused before the image is read
  const now = deps.clock();
  const expiresAt = p.expiresAt === undefined ? now + DEFAULT_LIFETIME_MS : Date.parse(p.expiresAt);
  checkFresh(expiresAt, now);
  return {
    chunkSize: p.chunkSize ?? DEFAULT_CHUNK_SIZE,
    async finish(image) {
      const top = await deps.repo.highest(deviceClass);
      // The key current once the image is in, not the one at the start: a rotation during a long
      // upload fixed the old key's retirement from what it had signed by then (keys.ts).
      const key = deps.keys.signingKey();
      const manifest = buildManifest({
        deviceClass,
        version,
        // Next in the class; the counter stays where it is unless raised on purpose (MCUboot).
        sequence: p.sequence ?? (top?.sequence ?? 0) + 1,
        securityCounter: p.securityCounter ?? top?.securityCounter ?? 0,
        image,
        keyId: key.keyId,
        issuedAt: new Date(now),
        expiresAt: new Date(expiresAt),
      });
      return rowOf(manifest, await signManifest(manifest, key), 'server', now);
    },
  };
}

function offlineSigned(deps: UploadDeps, p: UploadParams, jws: string): UploadMode {
  // Authenticity first: an untrusted manifest is refused before the image is read.
  const manifest = deps.keys.keyring.verify(jws);
  const signedFields = (['sequence', 'securityCounter', 'expiresAt', 'chunkSize'] as const).filter((f) => p[f] !== undefined);
  if (signedFields.length > 0) throw new BatonError('InvalidRequest', `${signedFields.join(', ')} come from the signed manifest; leave them out.`);
  if ((p.deviceClass ?? manifest.deviceClass) !== manifest.deviceClass || (p.version ?? manifest.version) !== manifest.version) {
    throw new BatonError('InvalidRequest', 'deviceClass and version differ from the signed manifest.');
  }
  const now = deps.clock();
  checkFresh(Date.parse(manifest.expiresAt), now);
  return {
    chunkSize: manifest.chunkSize,
    expectedSha256: manifest.sha256,
    async finish(image) {
      checkManifestMatchesImage(manifest, image);
      return rowOf(manifest, jws, 'offline', now);
    },
  };
}

/** Identical bytes under an existing class + version are the same upload; anything else conflicts. */
function sameUpload(existing: FirmwareRow, row: FirmwareRow): boolean {
  return existing.sha256 === row.sha256 && (row.signedBy === 'server' || existing.manifest === row.manifest);
}

async function record(deps: UploadDeps, row: FirmwareRow): Promise<UploadResult> {
  const result = await deps.repo.insert(row);
  if (result.created) return { created: true, row };
  if (sameUpload(result.existing, row)) return { created: false, row: result.existing };
  throw new BatonError('Conflict', `${row.deviceClass} ${row.version} exists with another image or manifest; upload a new version.`);
}

export async function uploadFirmware(deps: UploadDeps, body: Readable, params: UploadParams, signedManifest?: string): Promise<UploadResult> {
  const mode = signedManifest === undefined ? serverSigned(deps, params) : offlineSigned(deps, params, signedManifest);
  const image = await receive(deps.artifacts, body, mode.chunkSize, mode.expectedSha256);
  const release = deps.hold(image.sha256);
  try {
    return await record(deps, await mode.finish(image));
  } catch (err) {
    release();
    await deps.discard(image.sha256);
    throw err;
  } finally {
    release();
  }
}
