import { BatonError } from '../../device-sdk/protocol/index.js';
import type { TokenRecord, TokenRepo, TokenRole } from '../store/types.js';
import { newId, newSecret, type SecretHasher } from './secrets.js';

/** What each role may do on the admin API; integrations only read over MQTT and REST. */
export const roleRank: Record<TokenRole, number> = { viewer: 1, integration: 1, operator: 2, admin: 3 };
export type Access = 'read' | 'write' | 'admin';
const accessNeeds: Record<Access, number> = { read: 1, write: 2, admin: 3 };

export function roleAllows(role: TokenRole, access: Access): boolean {
  return roleRank[role] >= accessNeeds[access];
}

export interface TokenServiceDeps {
  repo: TokenRepo;
  hasher: SecretHasher;
  clock: () => Date;
}

/** API tokens: `btk_` + 256 random bits; only their keyed hash is stored. */
export function createTokenService({ repo, hasher, clock }: TokenServiceDeps) {
  return {
    async create(name: string, role: TokenRole, secret = newSecret('btk_')): Promise<{ token: TokenRecord; secret: string }> {
      const token = await repo.create({ id: newId(), name, role, hash: hasher.hash(secret) }, clock());
      return { token, secret };
    },
    /** The token a bearer secret belongs to, or undefined. */
    async authenticate(secret: string): Promise<TokenRecord | undefined> {
      if (secret.length < 32 || secret.length > 256) return undefined;
      return repo.findByHash(hasher.hash(secret));
    },
    list: () => repo.list(),
    async delete(id: string): Promise<void> {
      if (!(await repo.delete(id))) throw new BatonError('NotFound', `token ${id} does not exist`);
    },
    /**
     * On first start (no token yet), creates the first admin token: the configured one, or a new
     * one returned so the entry point can print it once. Never logged.
     */
    async ensureFirstAdmin(configured: string | undefined): Promise<string | undefined> {
      if ((await repo.count()) > 0) return undefined;
      const { secret } = await this.create('first-admin', 'admin', configured);
      return configured === undefined ? secret : undefined;
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
