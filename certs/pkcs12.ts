/**
 * PKCS#12 (RFC 7292) bundles of a generated key and its certificate chain, for tools and devices
 * that import one password-protected file.
 *
 * node-forge's `toPkcs12Asn1` cannot be used as is: it only wraps RSA keys, it cannot parse our
 * ECDSA CA certificate, and it re-encodes every certificate it is given, writing a NULL parameter
 * into the ECDSA signature algorithm, which OpenSSL then rejects as a signature algorithm
 * mismatch. So the PFX is assembled here from forge's ASN.1 builder and its PKCS#12 key
 * derivation, around parts that need no re-encoding:
 * - the key bag holds node:crypto's encrypted PKCS#8 (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC),
 *   which works for EC and RSA keys alike;
 * - certificate bags hold the certificates' DER bytes untouched;
 * - the MAC is HMAC-SHA256 with the RFC 7292 Appendix B key derivation.
 * These are OpenSSL 3's own defaults, so `openssl pkcs12` opens the file without `-legacy`.
 */
import { createHash, createHmac, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Node = forge.asn1.Asn1;

const OID = {
  data: '1.2.840.113549.1.7.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
};
/** OpenSSL 3's default iteration count for both the key encryption and the MAC. */
const MAC_ITERATIONS = 2048;

// forge's ASN.1 values are binary strings; these helpers keep that detail in one place.
const bin = (bytes: Uint8Array): string => Buffer.from(bytes).toString('binary');
const u = asn1.Class.UNIVERSAL;
const seq = (...items: Node[]): Node => asn1.create(u, asn1.Type.SEQUENCE, true, items);
const set = (...items: Node[]): Node => asn1.create(u, asn1.Type.SET, true, items);
const oid = (id: string): Node => asn1.create(u, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
const octets = (bytes: Uint8Array): Node => asn1.create(u, asn1.Type.OCTETSTRING, false, bin(bytes));
const int = (n: number): Node => asn1.create(u, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes());
const explicit0 = (inner: Node): Node => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
const toDer = (node: Node): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');

/** The localKeyId (SHA-1 of the leaf certificate, as OpenSSL does) pairs the key with its cert. */
function bagAttributes(localKeyId: Uint8Array, friendlyName: string): Node {
  const name = asn1.create(u, asn1.Type.BMPSTRING, false, friendlyName);
  return set(seq(oid(OID.localKeyId), set(octets(localKeyId))), seq(oid(OID.friendlyName), set(name)));
}

function certBag(der: Uint8Array, attributes?: Node): Node {
  const bag = seq(oid(OID.x509Certificate), explicit0(octets(der)));
  return seq(oid(OID.certBag), explicit0(bag), ...(attributes ? [attributes] : []));
}

function keyBag(key: KeyObject, password: string, attributes: Node): Node {
  const encrypted = key.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: password });
  return seq(oid(OID.pkcs8ShroudedKeyBag), explicit0(asn1.fromDer(bin(encrypted))), attributes);
}

/** A ContentInfo of type data holding one SafeContents. */
const dataContent = (der: Uint8Array): Node => seq(oid(OID.data), explicit0(octets(der)));

function macData(authenticatedSafe: Uint8Array, password: string): Node {
  const salt = randomBytes(16);
  const saltBuffer = forge.util.createBuffer(bin(salt));
  const macKey = forge.pkcs12.generateKey(password, saltBuffer, 3, MAC_ITERATIONS, 32, forge.md.sha256.create());
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary')).update(authenticatedSafe).digest();
  const digestAlgorithm = seq(oid(OID.sha256), asn1.create(u, asn1.Type.NULL, false, ''));
  return seq(seq(digestAlgorithm, octets(mac)), octets(salt), int(MAC_ITERATIONS));
}

export interface Pkcs12Input {
  privateKey: KeyObject;
  /** PEM certificates: the key's own certificate first, then its issuers. */
  certificatesPem: string[];
  password: string;
  friendlyName: string;
}

/** A DER PFX, base64-encoded. */
export function buildPkcs12({ privateKey, certificatesPem, password, friendlyName }: Pkcs12Input): string {
  const ders = certificatesPem.map((pem) => new X509Certificate(pem).raw);
  const leaf = ders[0];
  if (!leaf) throw new Error('A PKCS#12 bundle needs at least the key owner certificate.');
  const attributes = bagAttributes(createHash('sha1').update(leaf).digest(), friendlyName);
  const certBags = ders.map((der, i) => certBag(der, i === 0 ? attributes : undefined));
  const authenticatedSafe = toDer(
    seq(dataContent(toDer(seq(...certBags))), dataContent(toDer(seq(keyBag(privateKey, password, attributes))))),
  );
  const pfx = seq(int(3), dataContent(authenticatedSafe), macData(authenticatedSafe, password));
  return toDer(pfx).toString('base64');
}
