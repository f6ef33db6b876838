import { CLAIM_CLIENT_PREFIX } from '../../device-sdk/certificates.js';
import { BatonError, type DeviceStatus, type JsonObject } from '../../device-sdk/protocol/index.js';
import { newSecret, type SecretHasher } from '../auth/secrets.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { ShadowQuery } from '../shadows/query.js';
import type { DevicePatch, DeviceRecord, Page, Store } from '../store/types.js';

export interface DeviceView extends DeviceRecord {
  status: DeviceStatus;
}

export interface DeviceListQuery {
  tag?: string | undefined;
  deviceClass?: string | undefined;
  site?: string | undefined;
  status?: DeviceStatus | undefined;
  /** Devices whose newest unrevoked certificate expires within this many days (or has expired). */
  certExpiresWithinDays?: number | undefined;
  shadow?: ShadowQuery | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface NewDeviceInput {
  id: string;
  deviceClass?: string | undefined;
  site?: string | undefined;
  tags?: string[] | undefined;
  attributes?: JsonObject | undefined;
}

export interface RegistryDeps {
  store: Store;
  hasher: SecretHasher;
  presence: PresenceTracker;
  clock: () => Date;
}

const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');
const decodeCursor = (cursor: string) => Buffer.from(cursor, 'base64url').toString();

/** The device registry: records, secrets, and status derived from live presence. */
export function createDeviceRegistry({ store, hasher, presence, clock }: RegistryDeps) {
  const view = ({ pending, ...d }: DeviceRecord): DeviceView => ({
    ...d,
    status: pending ? 'pending' : presence.status(d.id, d.firstConnectedAt !== null),
  });

  /** `online`/`stale` are live properties: filter the connected set; the rest is in the store. */
  async function listIds(q: DeviceListQuery, afterId: string | undefined, limit: number) {
    const connected = presence.connectedIds();
    const byStatus = {
      online: { ids: connected },
      stale: { ids: connected },
      offline: { excludeIds: connected, everConnected: true },
      'never-connected': { everConnected: false, approvalPending: false },
      pending: { approvalPending: true },
    } as const;
    const statusFilter = q.status ? byStatus[q.status] : {};
    const certExpiresBefore = q.certExpiresWithinDays === undefined
      ? undefined
      : new Date(clock().getTime() + q.certExpiresWithinDays * 86_400_000).toISOString();
    return store.devices.list({ tag: q.tag, deviceClass: q.deviceClass, site: q.site, shadow: q.shadow, ...statusFilter, certExpiresBefore, afterId, limit });
  }

  return {
    async create(input: NewDeviceInput): Promise<{ device: DeviceView; secret: string }> {
      // Claim sessions connect as `provision-{serial}`: a device of such an id would share their client ids.
      if (input.id.startsWith(CLAIM_CLIENT_PREFIX)) {
        throw new BatonError('InvalidRequest', `device ids may not start with ${CLAIM_CLIENT_PREFIX}`, { fields: { id: `must not start with ${CLAIM_CLIENT_PREFIX}` } });
      }
      if (input.site !== undefined && !(await store.sites.get(input.site))) {
        throw new BatonError('InvalidRequest', `site ${input.site} does not exist`, { fields: { site: 'unknown site' } });
      }
      const secret = newSecret();
      const device = await store.devices.create({ ...input, secretHash: hasher.hash(secret) }, clock());
      return { device: view(device), secret };
    },

    async get(id: string): Promise<DeviceView> {
      const d = await store.devices.get(id);
      if (!d) throw new BatonError('NotFound', `device ${id} does not exist`);
      return view(d);
    },

    async list(q: DeviceListQuery): Promise<Page<DeviceView>> {
      const items: DeviceView[] = [];
      let afterId = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      // `online` and `stale` share the connected set, so post-filter and read on until full.
      // One row of look-ahead tells whether a next page exists.
      for (;;) {
        const rows = await listIds(q, afterId, q.limit + 1);
        const page = rows.slice(0, q.limit);
        for (const [i, row] of page.entries()) {
          afterId = row.id;
          const v = view(row);
          if (q.status !== undefined && v.status !== q.status) continue;
          items.push(v);
          if (items.length === q.limit) {
            const more = i < rows.length - 1;
            return { items, nextCursor: more ? encodeCursor(afterId) : null };
          }
        }
        if (rows.length <= q.limit) return { items, nextCursor: null };
      }
    },

    async update(id: string, patch: DevicePatch): Promise<DeviceView> {
      if (patch.site != null && !(await store.sites.get(patch.site))) {
        throw new BatonError('InvalidRequest', `site ${patch.site} does not exist`, { fields: { site: 'unknown site' } });
      }
      const d = await store.devices.update(id, patch, clock());
      if (!d) throw new BatonError('NotFound', `device ${id} does not exist`);
      return view(d);
    },

    /** Deletes the record and drops the live connection at once, so the old secret is useless. */
    async delete(id: string): Promise<void> {
      if (!(await store.devices.delete(id))) throw new BatonError('NotFound', `device ${id} does not exist`);
      presence.session(id)?.disconnect();
    },

    async rotateSecret(id: string): Promise<string> {
      const secret = newSecret();
      if (!(await store.devices.setSecretHash(id, hasher.hash(secret), clock()))) {
        throw new BatonError('NotFound', `device ${id} does not exist`);
      }
      return secret;
    },

    /** MQTT CONNECT: is this client id a registered device's (so only that device may use it)? */
    async exists(id: string): Promise<boolean> {
      return (await store.devices.getSecretHash(id)) !== undefined;
    },

    /** MQTT CONNECT: does this secret belong to this device? */
    async verifySecret(id: string, secret: string): Promise<boolean> {
      const hash = await store.devices.getSecretHash(id);
      return hash !== undefined && hasher.matches(secret, hash);
    },
  };
}

export type DeviceRegistry = ReturnType<typeof createDeviceRegistry>;
