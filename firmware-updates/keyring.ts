/**
 * The broker's keyring of trusted firmware signing keys, several at once so keys can rotate (TUF
 * key rotation: add the new key, sign with it, then retire the old one, at once or at a set time
 * once what it signed has expired). Storage-agnostic: it takes and returns plain records, which
 * the broker persists in its store.
 *
 * Verification is the device's own code (`openSignedManifest`), so the broker refuses at upload
 * exactly what devices would refuse later, and there is one JWS verifier to review, not two.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { BatonError } from '../device-sdk/protocol/errors.js';
import {
  KEY_ID_PATTERN,
  type FirmwareAlgorithm,
  type FirmwareManifest,
  type TrustedKey,
} from '../device-sdk/firmware/manifest.js';
import { openSignedManifest } from '../device-sdk/firmware/verify-manifest.js';
import { algorithmOf, keyIdOf, type SigningKey } from './signing-keys.js';

export interface KeyRecord {
  keyId: string;
  algorithm: FirmwareAlgorithm;
  /** SPKI PEM. */
  publicKeyPem: string;
  /** ISO time the key stopped being trusted; absent while it is active. */
  retiredAt?: string;
  /**
   * ISO time a key on its way out (rotated out: nothing new is signed with it) stops being trusted
   * by itself; absent otherwise. Until then devices trust it beside its successor.
   */
  retiresAt?: string;
}

/** The public record of a signing key, to add to a keyring or hand to devices. */
export const recordOf = (key: SigningKey): KeyRecord => ({
  keyId: key.keyId,
  algorithm: key.algorithm,
  publicKeyPem: key.publicKeyPem,
});

function parsePublicKey(pem: string): KeyObject {
  try {
    return createPublicKey(pem);
  } catch {
    throw new BatonError('InvalidRequest', 'The public key is not a PEM public key.');
  }
}

/** A record is accepted only if its key id and algorithm are the ones its key implies. */
function normalise(record: KeyRecord): KeyRecord {
  if (!KEY_ID_PATTERN.test(record.keyId)) throw new BatonError('InvalidRequest', 'Malformed key id.');
  const key = parsePublicKey(record.publicKeyPem);
  if (key.type !== 'public') throw new BatonError('InvalidRequest', 'Only public keys belong in the keyring.');
  const algorithm = algorithmOf(key);
  if (keyIdOf(key) !== record.keyId || algorithm !== record.algorithm) {
    throw new BatonError('InvalidRequest', `Key ${record.keyId} does not match its public key or algorithm.`);
  }
  const publicKeyPem = key.export({ type: 'spki', format: 'pem' }).toString();
  return withTimes({ keyId: record.keyId, algorithm, publicKeyPem }, record);
}

/** `base` with the record's retirement times, absent ones left out (never `undefined` fields). */
function withTimes(base: KeyRecord, { retiredAt, retiresAt }: Pick<KeyRecord, 'retiredAt' | 'retiresAt'>): KeyRecord {
  return { ...base, ...(retiredAt === undefined ? {} : { retiredAt }), ...(retiresAt === undefined ? {} : { retiresAt }) };
}

export class Keyring {
  private readonly byId = new Map<string, KeyRecord>();

  constructor(
    records: readonly KeyRecord[] = [],
    private readonly now: () => number = Date.now,
  ) {
    for (const record of records) this.byId.set(record.keyId, normalise(record));
  }

  /**
   * A record as of now: a key whose `retiresAt` has come is retired since then. Derived on every
   * read rather than written by a timer, so no check can run late and trust a key too long.
   */
  private settled(r: KeyRecord): KeyRecord {
    const due = r.retiredAt === undefined && r.retiresAt !== undefined && Date.parse(r.retiresAt) <= this.now();
    return due ? { ...r, retiredAt: r.retiresAt } : { ...r };
  }

  private mustGet(keyId: string): KeyRecord {
    const existing = this.byId.get(keyId);
    if (!existing) throw new BatonError('NotFound', `No key ${keyId} in the keyring.`);
    return this.settled(existing);
  }

  /** Trusts a key. Adding the same trusted key again is a no-op; a retired key stays retired (`Conflict`). */
  add(record: KeyRecord): KeyRecord {
    const next = normalise({ keyId: record.keyId, algorithm: record.algorithm, publicKeyPem: record.publicKeyPem });
    if (!this.byId.has(next.keyId)) {
      this.byId.set(next.keyId, next);
      return { ...next };
    }
    const existing = this.mustGet(next.keyId);
    if (existing.retiredAt !== undefined) throw new BatonError('Conflict', `Key ${next.keyId} was retired.`);
    return existing;
  }

  /** Stops trusting a key; manifests it signed are refused from now on (`UntrustedKey`). */
  retire(keyId: string): KeyRecord {
    const existing = this.mustGet(keyId);
    const retired = { ...existing, retiredAt: existing.retiredAt ?? new Date(this.now()).toISOString() };
    this.byId.set(keyId, retired);
    return { ...retired };
  }

  /** Keeps trusting a key until `at` (epoch ms), then not (key rotation); a retired key stays as it is. */
  retireAt(keyId: string, at: number): KeyRecord {
    const existing = this.mustGet(keyId);
    if (existing.retiredAt !== undefined) return existing;
    const scheduled = { ...existing, retiresAt: new Date(at).toISOString() };
    this.byId.set(keyId, scheduled);
    return this.settled(scheduled);
  }

  /** One record as of now. */
  get(keyId: string): KeyRecord {
    return this.mustGet(keyId);
  }

  /** Every record as of now, retired ones included, for persisting. */
  records(): KeyRecord[] {
    return [...this.byId.values()].map((r) => this.settled(r));
  }

  /** The keys trusted now (those still to retire included), in the shape devices pin. */
  trustedKeys(): TrustedKey[] {
    return this.records()
      .filter((r) => r.retiredAt === undefined)
      .map(({ keyId, algorithm, publicKeyPem }) => ({ keyId, algorithm, publicKeyPem }));
  }

  /** Verifies a signed manifest against the active keys; see `openSignedManifest` for the codes. */
  verify(signed: string | Uint8Array): FirmwareManifest {
    return openSignedManifest(signed, this.trustedKeys());
  }
}
