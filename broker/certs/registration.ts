/**
 * Zero-touch provisioning: a factory-fresh device, logged in with its template's claim
 * credential, registers its hardware serial and a CSR, and gets its device id and certificate.
 * The new device's id is its serial, so the device knows the CN to put in its CSR beforehand.
 *
 * The steps run cheapest and least committal first: nothing is created for a request that a later
 * check would refuse, and a refused CSR leaves no device behind.
 */
import type { RegisterAccepted, RegisterRequest } from '../../device-sdk/certificates.js';
import { BatonError } from '../../device-sdk/protocol/index.js';
import type { FleetCa, IssuedCertificate } from '../../certs/index.js';
import type { DeviceRegistry, DeviceView } from '../devices/registry.js';
import { admitRegistration, type ClaimSession } from './admission.js';
import type { CertificateService } from './service.js';
import type { CertificateStore, TemplateRecord } from './store.js';

export interface RegistrationDeps {
  ca: FleetCa;
  store: CertificateStore;
  registry: DeviceRegistry;
  certificates: CertificateService;
  clock: () => Date;
}

export type Registered = Omit<RegisterAccepted, 'clientToken'>;

/** A claim session as registration sees it: its serial and template, and the claim credential it logged in with. */
export type ClaimLogin = ClaimSession & { claimId: string };

export function createRegistration(deps: RegistrationDeps) {
  const { store, registry, clock } = deps;

  /**
   * The claim credential is checked again at each request, not only at CONNECT: it may have been
   * revoked, or its template deleted (its claims with it), since the session logged in.
   */
  async function requireValidClaim(claim: ClaimLogin): Promise<void> {
    const record = await store.claims.get(claim.template, claim.claimId);
    if (!record || record.revokedAt !== null) {
      throw new BatonError('Forbidden', 'this claim credential has been revoked or its template deleted');
    }
  }

  async function admit(claim: ClaimSession, request: RegisterRequest): Promise<TemplateRecord> {
    const template = await store.templates.get(claim.template);
    if (!template) throw new BatonError('NotFound', `provisioning template ${claim.template} does not exist`);
    admitRegistration(template, claim, request);
    return template;
  }

  async function requireNewSerial(serial: string): Promise<void> {
    if (await store.provisioning.registration(serial)) {
      throw new BatonError('AlreadyProvisioned', `hardware serial ${serial} has already registered`);
    }
  }

  /** InvalidCsr, WeakKey or CsrSubjectMismatch (the CN must be the serial) before anything is created. */
  function sign(request: RegisterRequest): Promise<IssuedCertificate> {
    return deps.ca.signCsr({ csrPem: request.csr, deviceId: request.serial, lifetimeDays: deps.certificates.lifetimeDays });
  }

  /** The serial row is the lock: a concurrent second registration fails on it with AlreadyProvisioned. */
  async function createDevice(template: TemplateRecord, request: RegisterRequest): Promise<void> {
    const { serial } = request;
    await store.provisioning.addRegistration({ serial, template: template.name, deviceId: serial, registeredAt: clock().toISOString() });
    try {
      await registry.create({
        id: serial, deviceClass: request.deviceClass, site: template.site ?? undefined, tags: template.tags, attributes: template.attributes,
      });
    } catch (err) {
      await store.provisioning.removeRegistration(serial);
      throw err;
    }
    if (template.requireApproval) await store.provisioning.setApprovalState(serial, 'pending');
  }

  return {
    async register(claim: ClaimLogin, request: RegisterRequest): Promise<Registered> {
      await requireValidClaim(claim);
      const template = await admit(claim, request);
      await requireNewSerial(request.serial);
      const issued = await sign(request);
      await createDevice(template, request);
      const certificate = await deps.certificates.record(issued, { kind: 'device', deviceId: request.serial, template: null, source: 'provisioning' });
      return {
        deviceId: request.serial,
        certificate: certificate.certificate,
        certificateSerial: certificate.serial,
        notAfter: certificate.notAfter,
        status: template.requireApproval ? 'pending' : 'active',
      };
    },

    /** A pending device may connect from now on. Conflict if it is not pending. */
    async approve(deviceId: string): Promise<DeviceView> {
      const state = await store.provisioning.approvalState(deviceId);
      if (state === undefined) throw new BatonError('NotFound', `device ${deviceId} does not exist`);
      if (state !== 'pending') throw new BatonError('Conflict', `device ${deviceId} is not pending approval`);
      await store.provisioning.setApprovalState(deviceId, 'active');
      return registry.get(deviceId);
    },
  };
}

export type Registration = ReturnType<typeof createRegistration>;
