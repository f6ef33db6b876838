/**
 * The fleet CA as a Baton feature: device certificates and revocation, rotation over MQTT,
 * provisioning templates with their claim credentials, and zero-touch registration, wired from
 * the shared parts of the service (see broker/feature.ts). The CA, the TLS material and the
 * CONNECT-time checks are opened earlier, in `setup.ts`, because the listeners and the
 * authenticator need them before any feature is built.
 */
import { Counter, Gauge } from 'prom-client';
import type { SecretHasher } from '../auth/secrets.js';
import type { FeatureFactory } from '../feature.js';
import type { ApiPlugin } from '../http/app.js';
import { registerCertificateInbound } from './mqtt.js';
import type { Pki } from './pki.js';
import { provisioningRoutes } from './provisioning-routes.js';
import { createRegistration } from './registration.js';
import { certificateRoutes } from './routes.js';
import { createCertificateService, type CertificateSessions } from './service.js';
import type { CertificateStore } from './store.js';
import { createTemplateService } from './templates.js';

const DAY_MS = 86_400_000;

export interface CertificatesFeatureDeps {
  pki: Pki;
  store: CertificateStore;
  hasher: SecretHasher;
  /** The broker: drops the connections of a revoked certificate. */
  sessions: CertificateSessions;
}

export function certificatesFeature({ pki, store, hasher, sessions }: CertificatesFeatureDeps): FeatureFactory {
  return (ctx) => {
    const { config, metrics } = ctx;
    const registers = [metrics.registry];
    const clock = () => new Date(ctx.clock());
    const issued = new Counter({ name: 'baton_certificates_issued_total', help: 'Certificates issued, by source.', labelNames: ['source'], registers });
    const revoked = new Counter({ name: 'baton_certificates_revoked_total', help: 'Certificates revoked, by reason.', labelNames: ['reason'], registers });
    const requests = new Counter({
      name: 'baton_certificate_requests_total',
      help: 'Rotation and provisioning requests over MQTT, by kind and outcome (accepted, or the error code).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'baton_certificates_expiring_devices',
      help: `Devices whose newest unrevoked certificate expires within ${config.certExpiryWarningDays} days (BATON_CERT_EXPIRY_WARNING_DAYS) or has expired.`,
      registers,
      async collect() {
        this.set(await store.certificates.countDevicesExpiringBefore(new Date(ctx.clock() + config.certExpiryWarningDays * DAY_MS)));
      },
    });

    const certificates = createCertificateService({
      ca: pki.ca, store, devices: ctx.store.devices, sessions, lifetimeDays: config.certLifetimeDays, clock,
      onIssued: (source) => issued.inc({ source }),
      onRevoked: (reason) => revoked.inc({ reason }),
    });
    const templates = createTemplateService({ ca: pki.ca, store, sites: ctx.store.sites, certificates, hasher, sessions, clock });
    const registration = createRegistration({ ca: pki.ca, store, registry: ctx.registry, certificates, clock });
    registerCertificateInbound(ctx.router, {
      certificates, registration, publisher: ctx.publisher, log: ctx.log, onOutcome: (kind, outcome) => requests.inc({ kind, outcome }),
    });

    const certificateApi = certificateRoutes(certificates);
    const provisioningApi = provisioningRoutes({ templates, registration });
    const routes: ApiPlugin = async (app, api) => {
      await certificateApi(app, api);
      await provisioningApi(app, api);
    };
    return { name: 'certificates', routes };
  };
}
