/**
 * What the service builds for certificates before the broker and listeners exist: the
 * certificate store, the CONNECT-time credential checks, and which listeners take
 * username/password logins. `feature()` then plugs the rest in like any feature. The CA and TLS
 * material (`openPki`) are opened before the store, so a CA that cannot be opened (a wrong
 * passphrase) stops start-up with nothing to close.
 */
import type { Database } from 'better-sqlite3';
import type { Transport } from '../../device-sdk/protocol/index.js';
import type { SecretHasher } from '../auth/secrets.js';
import type { Config } from '../config.js';
import type { FeatureFactory } from '../feature.js';
import type { ClientCredentials } from '../mqtt/authenticate.js';
import { createSqliteCertificateStore } from '../store/sqlite/certificates.js';
import { createClientCredentials } from './credentials.js';
import { certificatesFeature } from './feature.js';
import type { Pki } from './pki.js';
import type { CertificateSessions } from './service.js';

export interface Certificates {
  credentials: ClientCredentials;
  /** Username/password logins per transport: TCP and WS follow BATON_MQTT_PASSWORD_AUTH, TLS and WSS BATON_MQTTS_PASSWORD_AUTH. */
  passwordAuth: (transport: Transport) => boolean;
  feature(sessions: CertificateSessions): FeatureFactory;
}

export function setUpCertificates(config: Config, pki: Pki, deps: { db: Database; hasher: SecretHasher }): Certificates {
  const store = createSqliteCertificateStore(deps.db);
  const byTransport: Record<Transport, boolean> = {
    tcp: config.mqttPasswordAuth,
    ws: config.mqttPasswordAuth,
    tls: config.mqttsPasswordAuth,
    wss: config.mqttsPasswordAuth,
  };
  return {
    credentials: createClientCredentials({ ca: pki.ca, store, hasher: deps.hasher }),
    passwordAuth: (transport) => byTransport[transport],
    feature: (sessions) => certificatesFeature({ pki, store, hasher: deps.hasher, sessions }),
  };
}
