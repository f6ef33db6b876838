/**
 * The trusted firmware signing keys: the broker's own key (created on first start in the data
 * dir) and offline keys added by operators, several at once so keys can rotate. The keyring
 * (`firmware-updates/keyring.ts`) decides; this file persists its records and adds the source.
 */
import { createPublicKey } from 'node:crypto';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { FirmwareAlgorithm } from '../../device-sdk/firmware/manifest.js';
import { Keyring, recordOf, type KeyRecord } from '../../firmware-updates/keyring.js';
import { algorithmOf, ensureSigningKey, keyIdOf, type SigningKey } from '../../firmware-updates/signing-keys.js';
import type { FirmwareKeyRepo, KeyRow } from './store.js';

export interface NewKey {
  publicKeyPem: string;
  /** Optional; must equal the id derived from the key when given. */
  keyId?: string | undefined;
  algorithm?: FirmwareAlgorithm | undefined;
}

const toRecord = (row: KeyRow): KeyRecord => ({
  keyId: row.keyId,
  algorithm: row.algorithm,
  publicKeyPem: row.publicKeyPem,
  ...(row.retiredAt === null ? {} : { retiredAt: row.retiredAt }),
});

/** Key id and algorithm as the key implies them; a private key is refused so it never gets stored. */
function describe(input: NewKey): KeyRecord {
  if (input.publicKeyPem.includes('PRIVATE KEY')) {
    throw new BatonError('InvalidRequest', 'Send the public key only; the private key never leaves the signer.');
  }
  let key;
  try {
    key = createPublicKey(input.publicKeyPem);
  } catch {
    throw new BatonError('InvalidRequest', 'publicKeyPem is not a PEM public key.');
  }
  return { keyId: input.keyId ?? keyIdOf(key), algorithm: input.algorithm ?? algorithmOf(key), publicKeyPem: input.publicKeyPem };
}

export async function createKeyService(deps: { repo: FirmwareKeyRepo; dataDir: string; clock: () => number }) {
  const { repo, clock } = deps;
  const rows = new Map((await repo.list()).map((r) => [r.keyId, r]));
  const keyring = new Keyring([...rows.values()].map(toRecord), clock);
  const own: SigningKey = await ensureSigningKey(deps.dataDir);

  async function save(record: KeyRecord, source: KeyRow['source']): Promise<KeyRow> {
    const row: KeyRow = {
      keyId: record.keyId,
      algorithm: record.algorithm,
      publicKeyPem: record.publicKeyPem,
      source: rows.get(record.keyId)?.source ?? source,
      createdAt: rows.get(record.keyId)?.createdAt ?? new Date(clock()).toISOString(),
      retiredAt: record.retiredAt ?? null,
    };
    await repo.put(row);
    rows.set(row.keyId, row);
    return row;
  }

  // First start: trust the broker's own key. An operator who retired it keeps it retired.
  if (!rows.has(own.keyId)) await save(keyring.add(recordOf(own)), 'server');

  return {
    keyring,
    /** The broker's key for server-side signing; `Conflict` once an operator retired it. */
    signingKey(): SigningKey {
      if (rows.get(own.keyId)?.retiredAt) throw new BatonError('Conflict', `The broker's signing key ${own.keyId} is retired; upload offline-signed manifests.`);
      return own;
    },
    isTrusted: (keyId: string) => keyring.trustedKeys().some((k) => k.keyId === keyId),
    list(includeRetired: boolean): KeyRow[] {
      return [...rows.values()].filter((r) => includeRetired || r.retiredAt === null);
    },
    /** Trusts an offline key; `created` is false when it was already trusted. */
    async add(input: NewKey): Promise<{ created: boolean; key: KeyRow }> {
      const record = describe(input);
      const created = !rows.has(record.keyId);
      return { created, key: await save(keyring.add(record), 'offline') };
    },
    async retire(keyId: string): Promise<KeyRow> {
      return save(keyring.retire(keyId), 'offline');
    },
  };
}

export type KeyService = Awaited<ReturnType<typeof createKeyService>>;
