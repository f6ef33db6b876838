/**
 * The trusted firmware signing keys: the broker's own key (`{dataDir}/firmware-signing-key.pem`,
 * created on first start, rotated on request) and offline keys added by operators, several at
 * once so keys can rotate. The keyring (`firmware-updates/keyring.ts`) decides; this file persists
 * its records, adds the source, and rotates the broker's key.
 *
 * A rotation replaces the broker's key at once: every server-signed manifest and config envelope is
 * signed with the new key from then on, and the new key is listed first. The old key stays trusted
 * until the last manifest it signed has expired, and for at least one config-envelope lifetime.
 * Then it retires by itself. Until then, devices that pin both keys verify what either one signed.
 */
import { createPublicKey } from 'node:crypto';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { FirmwareAlgorithm } from '../../device-sdk/firmware/manifest.js';
import { Keyring, recordOf, type KeyRecord } from '../../firmware-updates/keyring.js';
import { algorithmOf, keyIdOf, type ServerSigningKey, type SigningKey } from '../../firmware-updates/signing-keys.js';
import type { FirmwareKeyRepo, FirmwareRepo, KeyRow, SignedBy } from './store.js';
import { manifestOf } from './view.js';

export interface NewKey {
  publicKeyPem: string;
  /** Optional; must equal the id derived from the key when given. */
  keyId?: string | undefined;
  algorithm?: FirmwareAlgorithm | undefined;
}

export interface KeyServiceDeps {
  repo: FirmwareKeyRepo;
  /** The catalogue: when the last manifest a rotated-out key signed expires. */
  firmware: Pick<FirmwareRepo, 'list'>;
  serverKey: ServerSigningKey;
  /** How long a config envelope stays valid (`BATON_JOBS_CONFIG_TTL_S`): the broker's key signs those too. */
  envelopeTtlMs: number;
  clock: () => number;
}

const CATALOGUE_PAGE = 1000;

const toRecord = (row: KeyRow): KeyRecord => ({
  keyId: row.keyId,
  algorithm: row.algorithm,
  publicKeyPem: row.publicKeyPem,
  ...(row.retiredAt === null ? {} : { retiredAt: row.retiredAt }),
  ...(row.retiresAt === null ? {} : { retiresAt: row.retiresAt }),
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

export async function createKeyService(deps: KeyServiceDeps) {
  const { repo, serverKey, clock } = deps;
  const stored = await repo.list();
  /** What the keyring does not hold: where each key came from and since when it is known. */
  const origins = new Map(stored.map((r) => [r.keyId, { source: r.source, createdAt: r.createdAt }]));
  const keyring = new Keyring(stored.map(toRecord), clock);

  const rowOf = (record: KeyRecord): KeyRow => {
    const origin = origins.get(record.keyId)!;
    return {
      keyId: record.keyId,
      algorithm: record.algorithm,
      publicKeyPem: record.publicKeyPem,
      source: origin.source,
      createdAt: origin.createdAt,
      retiredAt: record.retiredAt ?? null,
      retiresAt: record.retiresAt ?? null,
    };
  };

  /** Persists a keyring record; `source` is kept from the first time the key was saved. */
  async function save(record: KeyRecord, source: SignedBy): Promise<KeyRow> {
    if (!origins.has(record.keyId)) origins.set(record.keyId, { source, createdAt: new Date(clock()).toISOString() });
    const row = rowOf(record);
    await repo.put(row);
    return row;
  }

  /**
   * When a key the broker stopped signing with at `replacedAt` may retire: once every manifest it
   * signed has expired (those deleted since no longer count), and no config envelope it signed
   * can still be valid.
   */
  async function retirementOf(keyId: string, replacedAt: number): Promise<number> {
    let at = replacedAt + deps.envelopeTtlMs;
    let afterId: string | undefined;
    for (;;) {
      const page = await deps.firmware.list({ afterId, limit: CATALOGUE_PAGE });
      for (const row of page) {
        const manifest = manifestOf(row);
        if (manifest.keyId === keyId) at = Math.max(at, Date.parse(manifest.expiresAt));
      }
      if (page.length < CATALOGUE_PAGE) return at;
      afterId = page.at(-1)!.id;
    }
  }

  /**
   * The broker's key is the one in its key file. A server key that is not, and has no retirement
   * yet, was rotated out: just now, or by a rotation that a crash cut short between the key file
   * and the store, or by a key file replaced by hand. It retires as a rotation says.
   */
  async function retireRotatedOut(): Promise<void> {
    const own = serverKey.current().keyId;
    for (const r of keyring.records()) {
      if (origins.get(r.keyId)?.source !== 'server' || r.keyId === own || r.retiredAt !== undefined || r.retiresAt !== undefined) continue;
      await save(keyring.retireAt(r.keyId, await retirementOf(r.keyId, clock())), 'server');
    }
  }

  // First start, or the first after a rotation: trust the broker's own key. An operator who
  // retired it keeps it retired.
  if (!origins.has(serverKey.current().keyId)) await save(keyring.add(recordOf(serverKey.current())), 'server');
  await retireRotatedOut();

  return {
    keyring,
    /** The broker's key for server-side signing; `Conflict` once an operator retired it. */
    signingKey(): SigningKey {
      const own = serverKey.current();
      if (keyring.get(own.keyId).retiredAt !== undefined) {
        throw new BatonError('Conflict', `The broker's signing key ${own.keyId} is retired; rotate it, or upload offline-signed manifests.`);
      }
      return own;
    },
    isTrusted: (keyId: string) => keyring.trustedKeys().some((k) => k.keyId === keyId),
    /** The keys as of now: the broker's signing key first, then the newest first. */
    list(includeRetired: boolean): KeyRow[] {
      const own = serverKey.current().keyId;
      return keyring
        .records()
        .filter((r) => includeRetired || r.retiredAt === undefined)
        .map(rowOf)
        .sort((a, b) => Number(b.keyId === own) - Number(a.keyId === own) || b.createdAt.localeCompare(a.createdAt) || a.keyId.localeCompare(b.keyId));
    },
    /** Trusts an offline key; `created` is false when it was already trusted. */
    async add(input: NewKey): Promise<{ created: boolean; key: KeyRow }> {
      const record = describe(input);
      const created = !origins.has(record.keyId);
      return { created, key: await save(keyring.add(record), 'offline') };
    },
    /** Retires a key now, whatever it signed (a compromised key); a rotated-out key retires by itself later. */
    async retire(keyId: string): Promise<KeyRow> {
      return save(keyring.retire(keyId), 'offline');
    },
    /** A new key for the broker, signing from now on; the one it replaces retires once what it signed has expired. */
    async rotate(algorithm?: FirmwareAlgorithm): Promise<{ key: KeyRow; previous: KeyRow }> {
      const { previous, current } = await serverKey.rotate(algorithm);
      const key = await save(keyring.add(recordOf(current)), 'server');
      await retireRotatedOut();
      return { key, previous: rowOf(keyring.get(previous.keyId)) };
    },
  };
}

export type KeyService = Awaited<ReturnType<typeof createKeyService>>;
