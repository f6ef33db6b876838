/**
 * The broker's key material, opened once while the service is built (before any listener
 * exists): the fleet CA (created in `{dataDir}/ca` on first start, or the operator's) and the TLS
 * server certificate (issued by that CA for `BATON_TLS_HOSTNAMES`, or the operator's).
 */
import { join } from 'node:path';
import type { TlsOptions } from 'node:tls';
import {
  CertSetupError,
  ensureServerCertificate,
  loadServerCertificate,
  openFleetCa,
  type FleetCa,
  type ServerCredentials,
} from '../../certs/index.js';
import type { Config } from '../config.js';

export interface Pki {
  ca: FleetCa;
  server: ServerCredentials;
  /** Options for every TLS listener: our server certificate, and the CA that client certificates must chain to. */
  tls: TlsOptions;
}

/** Both files of a pair, or neither: half a pair is a configuration mistake, not a default. */
function pair(certPath: string | undefined, keyPath: string | undefined, what: string) {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    throw new CertSetupError('Incomplete', `${what}: set both the certificate and the key path, or neither.`);
  }
  return { certPath, keyPath };
}

export async function openPki(config: Config, clock: () => Date): Promise<Pki> {
  const dir = join(config.dataDir, 'ca');
  const passphrase = config.caPassphrase;
  const existing = pair(config.caCert, config.caKey, 'BATON_CA_CERT/BATON_CA_KEY');
  const given = pair(config.tlsCert, config.tlsKey, 'BATON_TLS_CERT/BATON_TLS_KEY');
  const ca = await openFleetCa({ dir, passphrase, clock, existing });
  const server = given
    ? loadServerCertificate({ ...given, passphrase })
    : await ensureServerCertificate(ca, { dir, passphrase, hostnames: config.tlsHostnames });
  return {
    ca,
    server,
    tls: {
      cert: server.certificatePem,
      key: server.privateKeyPem,
      ca: ca.chainPem,
      // TLS 1.0 and 1.1 are deprecated (RFC 8996); Node's default maximum is TLS 1.3.
      minVersion: 'TLSv1.2',
    },
  };
}
