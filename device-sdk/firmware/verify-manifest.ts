/**
 * Device-side manifest verification: fail closed, cheapest and most fundamental checks first.
 *
 * 1. Authenticity before parsing (RFC 9124 REQ.SEC.AUTHENTIC): an oversize envelope is refused
 *    unread, the signature is checked over the raw bytes, and only then is the JSON parsed.
 * 2. Freshness (TUF "freeze attack" defence): `expiresAt` must be later than the trusted time,
 *    which never goes back even if the device clock does.
 * 3. Anti-replay (REQ.SEC.SEQUENCE) and anti-rollback (MCUboot security counter).
 * 4. Applicability (REQ.SEC.COMPATIBLE): device class, and the image must fit.
 * Every failure is a `BatonError` with its own code, reported in the job status.
 */
import { BatonError } from '../protocol/errors.js';
import { verifyCompactJws } from './jws.js';
import {
  MANIFEST_TYP,
  MAX_MANIFEST_BYTES,
  parseManifest,
  type FirmwareManifest,
  type TrustedKey,
} from './manifest.js';

/** What the device knows about itself when a manifest arrives. */
export interface DeviceFirmwareContext {
  deviceClass: string;
  installedSequence: number;
  installedSecurityCounter: number;
  /** Last accepted `issuedAt` (ms since epoch), persisted in the device state. */
  trustedTime: number;
  /** Bytes available for the new image (the secondary slot, in MCUboot terms). */
  freeBytes: number;
  /** Device clock, ms since epoch; may be wrong, so it only ever raises the trusted time. */
  now(): number;
}

/**
 * Stage 1, shared with the broker's keyring: size bound, signature, then schema. Also binds the
 * manifest's own `keyId` to the `kid` that verified, so a payload cannot claim another signer.
 */
export function openSignedManifest(signed: string | Uint8Array, trustedKeys: readonly TrustedKey[]): FirmwareManifest {
  const byteLength = typeof signed === 'string' ? Buffer.byteLength(signed) : signed.byteLength;
  if (byteLength > MAX_MANIFEST_BYTES) {
    throw new BatonError('TooLarge', `The signed manifest exceeds ${MAX_MANIFEST_BYTES} bytes.`);
  }
  const jws = typeof signed === 'string' ? signed : Buffer.from(signed).toString('latin1');
  const { header, payload } = verifyCompactJws(jws, trustedKeys, MANIFEST_TYP);
  let decoded: unknown;
  try {
    decoded = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new BatonError('InvalidRequest', 'The signed manifest payload is not JSON.');
  }
  const manifest = parseManifest(decoded);
  if (manifest.keyId !== header.kid) {
    throw new BatonError('SignatureInvalid', 'The manifest keyId differs from the key that signed it.');
  }
  return manifest;
}

type ManifestCheck = (manifest: FirmwareManifest, device: DeviceFirmwareContext) => void;

const checkFreshness: ManifestCheck = (m, device) => {
  const trustedTime = Math.max(device.now(), device.trustedTime);
  if (!(Date.parse(m.expiresAt) > trustedTime)) {
    throw new BatonError('Expired', `The manifest expired at ${m.expiresAt}.`, {
      trustedTime: new Date(trustedTime).toISOString(),
    });
  }
};

const checkSequence: ManifestCheck = (m, device) => {
  if (!(m.sequence > device.installedSequence)) {
    throw new BatonError('Replay', `Sequence ${m.sequence} is not above the installed ${device.installedSequence}.`);
  }
};

const checkSecurityCounter: ManifestCheck = (m, device) => {
  if (m.securityCounter < device.installedSecurityCounter) {
    throw new BatonError(
      'Rollback',
      `Security counter ${m.securityCounter} is below the installed ${device.installedSecurityCounter}.`,
    );
  }
};

const checkDeviceClass: ManifestCheck = (m, device) => {
  if (m.deviceClass !== device.deviceClass) {
    throw new BatonError('Incompatible', `The firmware is for device class ${m.deviceClass}.`);
  }
};

const checkFits: ManifestCheck = (m, device) => {
  if (m.size > device.freeBytes) {
    throw new BatonError('Incompatible', `The image needs ${m.size} bytes; ${device.freeBytes} are free.`);
  }
};

/** Run in this order; the first failing check decides the reported code. */
export const manifestChecks: readonly ManifestCheck[] = [
  checkFreshness,
  checkSequence,
  checkSecurityCounter,
  checkDeviceClass,
  checkFits,
];

/** Verifies a signed manifest for this device; returns it only if every check passes. */
export function verifyManifest(
  signed: string | Uint8Array,
  trustedKeys: readonly TrustedKey[],
  device: DeviceFirmwareContext,
): FirmwareManifest {
  const manifest = openSignedManifest(signed, trustedKeys);
  for (const check of manifestChecks) check(manifest, device);
  return manifest;
}
