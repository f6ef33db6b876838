/**
 * The extensions of each kind of certificate the fleet CA issues. Subject and authority key
 * identifiers are added to every certificate by the issuer (`issuer.ts`), not here.
 *
 * A client certificate says what it is in its URI SAN, not in its CN: device ids may contain `:`,
 * so a device could be named `claim:x`, while `urn:baton:device:` and `urn:baton:claim:` cannot be
 * confused. `verify.ts` reads the kind back from there.
 */
import { isIP } from 'node:net';
import type { Extension } from '@peculiar/x509';
import { x509 } from '../device-sdk/csr.js';
import { BatonError } from '../device-sdk/protocol/errors.js';

export const DEVICE_URI_PREFIX = 'urn:baton:device:';
export const CLAIM_URI_PREFIX = 'urn:baton:claim:';
/** The CN of a claim certificate; its kind is still decided by the URI SAN only. */
export const claimCommonName = (templateName: string): string => `claim:${templateName}`;

const { KeyUsageFlags, ExtendedKeyUsage } = x509;

/** Our own root: may sign leaf certificates and CRLs only (pathLen 0, RFC 5280 §4.2.1.9). */
export function caExtensions(): Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
  ];
}

/**
 * A device or claim certificate used for TLS client authentication. RSA keys also get
 * keyEncipherment, the usage RSA key transport needs (RFC 5280 §4.2.1.3); ECDSA keys only sign.
 */
export function clientExtensions(uri: string, rsaKey: boolean): Extension[] {
  const usages = KeyUsageFlags.digitalSignature | (rsaKey ? KeyUsageFlags.keyEncipherment : 0);
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }]),
  ];
}

/** RFC 1123 host names (no wildcards: the broker's names are known). */
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`);

/** The broker's TLS server certificate: one SAN per hostname or IP address. */
export function serverExtensions(hosts: readonly string[]): Extension[] {
  const invalid = hosts.find((host) => !isIP(host) && !HOSTNAME.test(host));
  if (hosts.length === 0 || invalid !== undefined) {
    const what = invalid ?? '(none)';
    throw new BatonError('InvalidRequest', `Server hostnames must be host names or IP addresses: ${what}`);
  }
  const names = hosts.map((host) => ({ type: isIP(host) ? ('ip' as const) : ('dns' as const), value: host }));
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(names),
  ];
}
