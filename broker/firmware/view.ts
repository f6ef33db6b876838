/**
 * What the admin API shows of a firmware: its manifest's fields, who signed it and whether
 * devices would accept it right now.
 */
import { parseManifest, type FirmwareManifest } from '../../device-sdk/firmware/manifest.js';
import type { FirmwareRow, SignedBy } from './store.js';

/** `expired`: past `expiresAt`; `untrusted`: its key was retired. Devices refuse both. */
export type FirmwareStatus = 'active' | 'expired' | 'untrusted';

export interface FirmwareView {
  id: string;
  deviceClass: string;
  version: string;
  sequence: number;
  securityCounter: number;
  size: number;
  sha256: string;
  chunkSize: number;
  chunkTableSha256: string;
  keyId: string;
  signedBy: SignedBy;
  issuedAt: string;
  expiresAt: string;
  createdAt: string;
  status: FirmwareStatus;
}

/**
 * The manifest inside a stored JWS. Its signature was verified before the row was written, so
 * this only decodes; devices verify the signature themselves.
 */
export function manifestOf(row: Pick<FirmwareRow, 'manifest'>): FirmwareManifest {
  const payload = row.manifest.split('.')[1] ?? '';
  return parseManifest(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
}

export function toView(row: FirmwareRow, nowMs: number, isTrusted: (keyId: string) => boolean): FirmwareView {
  const m = manifestOf(row);
  const status: FirmwareStatus = !isTrusted(m.keyId) ? 'untrusted' : Date.parse(m.expiresAt) <= nowMs ? 'expired' : 'active';
  return {
    id: row.id,
    deviceClass: m.deviceClass,
    version: m.version,
    sequence: m.sequence,
    securityCounter: m.securityCounter,
    size: m.size,
    sha256: m.sha256,
    chunkSize: m.chunkSize,
    chunkTableSha256: m.chunkTableSha256,
    keyId: m.keyId,
    signedBy: row.signedBy,
    issuedAt: m.issuedAt,
    expiresAt: m.expiresAt,
    createdAt: row.createdAt,
    status,
  };
}
