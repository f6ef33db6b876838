/**
 * Provisioning templates and their claim credentials. A claim credential (a token, or a claim
 * certificate from the fleet CA) can do nothing but provision with its template: the ACL lets a
 * claim session publish `provisioning/{serial}/register` and hear its replies, nothing else.
 */
import { BatonError, type JsonObject } from '../../device-sdk/protocol/index.js';
import type { FleetCa } from '../../certs/index.js';
import { newId, newSecret, type SecretHasher } from '../auth/secrets.js';
import type { Store } from '../store/types.js';
import type { CertificateService, CertificateSessions } from './service.js';
import type { CertificateStore, ClaimKind, ClaimRecord, TemplateRecord } from './store.js';

export interface TemplateInput {
  name: string;
  deviceClasses?: string[] | undefined;
  site?: string | undefined;
  tags?: string[] | undefined;
  attributes?: JsonObject | undefined;
  allowedSerials?: string[] | undefined;
  requireApproval: boolean;
}

export interface TemplateServiceDeps {
  ca: FleetCa;
  store: CertificateStore;
  sites: Store['sites'];
  certificates: CertificateService;
  hasher: SecretHasher;
  /** The broker: ends the claim sessions of a revoked claim or a deleted template. */
  sessions: CertificateSessions;
  clock: () => Date;
}

/** The credential as created: its secret half (token or private key) is in here once, never stored. */
export type IssuedClaim = ClaimRecord & {
  token?: string;
  certificate?: string;
  privateKey?: string;
  notAfter?: string;
  ca?: string;
  pkcs12?: string;
  pkcs12Password?: string;
};

export function createTemplateService(deps: TemplateServiceDeps) {
  const { store, clock } = deps;

  async function get(name: string): Promise<TemplateRecord> {
    const template = await store.templates.get(name);
    if (!template) throw new BatonError('NotFound', `provisioning template ${name} does not exist`);
    return template;
  }

  async function issueToken(template: string): Promise<IssuedClaim> {
    const token = newSecret('bclaim_');
    const claim = await store.claims.create({
      id: newId(), template, kind: 'token', tokenHash: deps.hasher.hash(token), certificateSerial: null, createdAt: clock().toISOString(),
    });
    return { ...claim, token };
  }

  async function issueCertificate(template: string, pkcs12Password: string | undefined): Promise<IssuedClaim> {
    const lifetimeDays = deps.certificates.lifetimeDays;
    const issued = await deps.ca.issueClaimCertificate({ templateName: template, lifetimeDays, password: pkcs12Password });
    const recorded = await deps.certificates.record(issued, { kind: 'claim', deviceId: null, template, source: 'claim' });
    let claim: ClaimRecord;
    try {
      claim = await store.claims.create({
        id: newId(), template, kind: 'certificate', tokenHash: null, certificateSerial: recorded.serial, createdAt: clock().toISOString(),
      });
    } catch (err) {
      // The template was deleted while the certificate was being issued (NotFound from the store):
      // the certificate is never handed out, and revoked so it is refused even if a template of
      // the same name is created again.
      await deps.certificates.revokeSerial(recorded.serial, 'privilegeWithdrawn').catch(() => undefined);
      throw err;
    }
    const pkcs12 = issued.pkcs12Base64 === undefined ? {} : { pkcs12: issued.pkcs12Base64, pkcs12Password };
    return { ...claim, certificate: issued.certificatePem, privateKey: issued.privateKeyPem, notAfter: recorded.notAfter, ca: deps.ca.chainPem, ...pkcs12 };
  }

  return {
    get,
    list: () => store.templates.list(),

    async create(input: TemplateInput): Promise<TemplateRecord> {
      if (input.site !== undefined && !(await deps.sites.get(input.site))) {
        throw new BatonError('InvalidRequest', `site ${input.site} does not exist`, { fields: { site: 'unknown site' } });
      }
      return store.templates.create({
        name: input.name,
        deviceClasses: input.deviceClasses ?? null,
        site: input.site ?? null,
        tags: [...new Set(input.tags ?? [])],
        attributes: input.attributes ?? {},
        allowedSerials: input.allowedSerials ?? null,
        requireApproval: input.requireApproval,
        createdAt: clock().toISOString(),
      });
    },

    async issueClaim(name: string, kind: ClaimKind, pkcs12Password?: string): Promise<IssuedClaim> {
      await get(name);
      return kind === 'token' ? issueToken(name) : issueCertificate(name, pkcs12Password);
    },

    async listClaims(name: string): Promise<ClaimRecord[]> {
      await get(name);
      return store.claims.list(name);
    },

    /** Refused from now on (a claim certificate is revoked too), and the sessions that logged in with it end at once. */
    async revokeClaim(name: string, id: string): Promise<ClaimRecord> {
      const claim = await store.claims.revoke(name, id, clock());
      if (!claim) throw new BatonError('NotFound', `template ${name} has no claim credential ${id}`);
      if (claim.certificateSerial !== null) await deps.certificates.revokeSerial(claim.certificateSerial, 'privilegeWithdrawn');
      deps.sessions.disconnectCredential({ kind: 'claim', claimId: id });
      return claim;
    },

    /**
     * Deletes the template with its claim credentials (claim certificates are revoked first, so
     * they are refused even if a template of the same name is created again) and ends its claim
     * sessions at once. Devices it provisioned are not touched.
     */
    async delete(name: string): Promise<void> {
      const claims = await store.claims.list(name);
      for (const claim of claims) {
        if (claim.certificateSerial !== null) await deps.certificates.revokeSerial(claim.certificateSerial, 'privilegeWithdrawn');
      }
      if (!(await store.templates.delete(name))) throw new BatonError('NotFound', `provisioning template ${name} does not exist`);
      deps.sessions.disconnectCredential({ kind: 'template', name });
    },
  };
}

export type TemplateService = ReturnType<typeof createTemplateService>;
