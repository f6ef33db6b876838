/**
 * JWS compact verification (RFC 7515) with node:crypto only: the SDK cannot depend on jose.
 *
 * Deliberately narrow. Only ES256 and EdDSA, only pinned keys chosen by `kid`, and the key's own
 * algorithm must equal the header's (RFC 8725 §3.1: never let the token pick the algorithm). No
 * `crit`, no unencoded payloads (`b64`), no `jku`/`x5u` key fetching; anything else fails closed.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { BatonError } from '../protocol/errors.js';
import { FIRMWARE_ALGORITHMS, type FirmwareAlgorithm, type TrustedKey } from './manifest.js';

export interface JwsHeader {
  alg: FirmwareAlgorithm;
  kid: string;
  typ?: string;
}

export interface VerifiedJws {
  header: JwsHeader;
  /** The exact signed payload bytes. */
  payload: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const invalid = (why: string): BatonError => new BatonError('SignatureInvalid', `JWS rejected: ${why}.`);

function splitCompact(jws: string): [string, string, string] {
  const parts = jws.split('.');
  if (parts.length !== 3) throw invalid('not a compact JWS');
  const [header, payload, signature] = parts as [string, string, string];
  // An empty signature is how `alg: none` and unsigned manifests arrive.
  if (![header, payload, signature].every((p) => BASE64URL.test(p))) throw invalid('missing or malformed part');
  return [header, payload, signature];
}

function decodeHeader(encoded: string): JwsHeader {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw invalid('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid('header is not an object');
  const h = header as Record<string, unknown>;
  // Rejects `none`, HS256 (a public key misused as an HMAC secret) and everything else.
  if (!FIRMWARE_ALGORITHMS.includes(h.alg as FirmwareAlgorithm)) {
    throw invalid(`algorithm ${String(h.alg)} not allowed`);
  }
  // RFC 7515 §4.1.11: a `crit` we do not understand must be rejected; we understand none.
  if ('crit' in h || 'b64' in h) throw invalid('critical or unencoded-payload header');
  if (typeof h.kid !== 'string') throw invalid('no kid');
  if (h.typ !== undefined && typeof h.typ !== 'string') throw invalid('typ is not a string');
  return h as unknown as JwsHeader;
}

/** The PEM must hold the key type its algorithm names, or a misconfigured trust store could confuse them. */
function publicKeyFor(trusted: TrustedKey): KeyObject {
  const key = createPublicKey(trusted.publicKeyPem);
  const ok =
    trusted.algorithm === 'ES256'
      ? key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
      : key.asymmetricKeyType === 'ed25519';
  if (!ok) throw new BatonError('UntrustedKey', `Trusted key ${trusted.keyId} is not a ${trusted.algorithm} key.`);
  return key;
}

function signatureValid(alg: FirmwareAlgorithm, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  if (alg === 'EdDSA') return verify(null, input, key, signature);
  // RFC 7518 §3.4: ES256 signatures are the raw 64-byte R || S, not DER.
  if (signature.length !== 64) return false;
  return verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/**
 * Verifies a compact JWS against pinned keys and returns the signed payload bytes.
 * Throws `SignatureInvalid` for anything malformed or mis-signed and `UntrustedKey` for an unknown `kid`.
 */
export function verifyCompactJws(jws: string, trustedKeys: readonly TrustedKey[], expectedTyp: string): VerifiedJws {
  const [encodedHeader, encodedPayload, encodedSignature] = splitCompact(jws);
  const header = decodeHeader(encodedHeader);
  if (header.typ !== expectedTyp) throw invalid(`typ must be ${expectedTyp}`);
  const trusted = trustedKeys.find((k) => k.keyId === header.kid);
  if (!trusted) throw new BatonError('UntrustedKey', `No trusted key has id ${header.kid}.`);
  if (trusted.algorithm !== header.alg) throw invalid(`key ${trusted.keyId} is not an ${header.alg} key`);
  const input = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
  const signature = Buffer.from(encodedSignature, 'base64url');
  if (!signatureValid(header.alg, publicKeyFor(trusted), input, signature)) throw invalid('signature does not verify');
  return { header, payload: Buffer.from(encodedPayload, 'base64url') };
}
