/**
 * What the firmware feature needs from a store. Async, so a PostgreSQL store can implement it as
 * well as the SQLite one in `broker/store/sqlite/firmware.ts`. Image bytes are not here: they
 * live in the artifact store (`firmware-updates/artifact-store.ts`), named by their SHA-256.
 */
import type { FirmwareAlgorithm } from '../../device-sdk/firmware/manifest.js';

export type SignedBy = 'server' | 'offline';

/** One firmware: the signed manifest (compact JWS) plus the columns the broker queries by. */
export interface FirmwareRow {
  id: string;
  deviceClass: string;
  version: string;
  sha256: string;
  sequence: number;
  securityCounter: number;
  signedBy: SignedBy;
  /** The compact JWS exactly as signed; devices verify these bytes. */
  manifest: string;
  createdAt: string;
}

export type InsertResult = { created: true; row: FirmwareRow } | { created: false; existing: FirmwareRow };

export interface FirmwareRepo {
  get(id: string): Promise<FirmwareRow | undefined>;
  list(filter: { deviceClass?: string | undefined; afterId?: string | undefined; limit: number }): Promise<FirmwareRow[]>;
  /** The highest sequence and security counter stored for a device class. */
  highest(deviceClass: string): Promise<{ sequence: number; securityCounter: number } | undefined>;
  /**
   * Atomically: the existing row if `deviceClass` + `version` is taken (nothing written);
   * otherwise `Conflict` unless `sequence` is above every stored one of the class (devices would
   * refuse it as a replay, RFC 9124 REQ.SEC.SEQUENCE); otherwise the new row.
   */
  insert(row: FirmwareRow): Promise<InsertResult>;
  delete(id: string): Promise<boolean>;
  /** How many rows name this image (content-addressed images may be shared). */
  countBySha256(sha256: string): Promise<number>;
}

export interface KeyRow {
  keyId: string;
  algorithm: FirmwareAlgorithm;
  publicKeyPem: string;
  /** `server`: the broker's own key, created on first start; `offline`: added by an operator. */
  source: SignedBy;
  createdAt: string;
  /** Set when an operator retired the key. */
  retiredAt: string | null;
  /** Set when a rotation replaced the broker's key: trusted until then (keys.ts). */
  retiresAt: string | null;
}

export interface FirmwareKeyRepo {
  list(): Promise<KeyRow[]>;
  /** Inserts, or updates `retiredAt` and `retiresAt` of an existing key. */
  put(key: KeyRow): Promise<void>;
}
