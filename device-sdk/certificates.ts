/**
 * Device certificates over MQTT: the wire contract of certificate rotation and zero-touch
 * provisioning (payload schemas, the claim login), shared with the broker, and
 * `rotateCertificate()`, which a connected client runs to get a new certificate.
 *
 * Nothing here loads the CSR library: a device whose key and CSR come from a secure element
 * passes its CSR in; only a device that wants a software key pays for `./csr.js`, which is loaded
 * on first use (see `createKeyAndCsr`).
 */
import { z } from 'zod';
import { BatonError, errorCodes, type ErrorCode } from './protocol/errors.js';
import { TOPIC_SEGMENT_PATTERN, topics } from './protocol/topics.js';
import type { RequestOptions } from './requests.js';

/** A PEM CSR is well under this (RSA-4096: ~1.7 KB); the CA refuses larger ones as InvalidCsr too. */
const MAX_CSR_CHARS = 16 * 1024;
const pem = z.string().min(1).max(MAX_CSR_CHARS);
/** As AWS IoT: a clientToken is echoed in the reply so a device can match it to its request. */
const clientToken = z.string().min(1).max(64).optional();
const segment = z.string().regex(TOPIC_SEGMENT_PATTERN, '1–128 characters of A-Z a-z 0-9 _ - . :');

// --- rotation: devices/{id}/certificates/create-from-csr -------------------------------------

export const createFromCsrRequestSchema = z.object({ csr: pem, clientToken }).strict();
export type CreateFromCsrRequest = z.infer<typeof createFromCsrRequestSchema>;

export const createFromCsrAcceptedSchema = z.object({
  certificate: z.string(),
  /** Lowercase hex, no separators: the form the revoke URL takes. */
  serial: z.string().regex(/^[0-9a-f]+$/),
  notAfter: z.iso.datetime(),
  clientToken,
});
export type CreateFromCsrAccepted = z.infer<typeof createFromCsrAcceptedSchema>;

/** `…/rejected` of both request kinds below: a stable code from the catalogue. */
export const certificateRejectedSchema = z.object({
  code: z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  clientToken,
});
export type CertificateRejected = z.infer<typeof certificateRejectedSchema>;

// --- zero-touch provisioning: provisioning/{serial}/register ----------------------------------

/** A claim token is presented as MQTT username `claim`, password = the token. */
export const CLAIM_USERNAME = 'claim';
/** Reserved for claim sessions: no device id starts with it, and only a claim credential may connect with it. */
export const CLAIM_CLIENT_PREFIX = 'provision-';
/** The client id of a device provisioning itself (with a claim token or a claim certificate). */
export const claimClientId = (serial: string): string => `${CLAIM_CLIENT_PREFIX}${serial}`;
/** The hardware serial in a claim client id, or undefined if it is not one. */
export function claimSerialOf(clientId: string): string | undefined {
  if (!clientId.startsWith(CLAIM_CLIENT_PREFIX)) return undefined;
  const serial = clientId.slice(CLAIM_CLIENT_PREFIX.length);
  return TOPIC_SEGMENT_PATTERN.test(serial) ? serial : undefined;
}

export const registerRequestSchema = z
  .object({
    templateName: segment,
    /** The hardware serial; also the new device's id, so the CSR's CN must be this. */
    serial: segment,
    deviceClass: segment,
    csr: pem,
    clientToken,
  })
  .strict();
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

export const registerAcceptedSchema = z.object({
  deviceId: z.string(),
  certificate: z.string(),
  certificateSerial: z.string().regex(/^[0-9a-f]+$/),
  notAfter: z.iso.datetime(),
  /** `pending`: the broker refuses the device until an operator approves it; retry connecting. */
  status: z.enum(['active', 'pending']),
  clientToken,
});
export type RegisterAccepted = z.infer<typeof registerAcceptedSchema>;

// --- the device side of rotation ---------------------------------------------------------------

/** A CSR to send, and the key it was made for when that key is a software key. */
export interface KeyAndCsr {
  csrPem: string;
  /** Absent when the key lives in a secure element. */
  privateKeyPem?: string;
}

/** Makes a fresh ECDSA P-256 key and a CSR for `deviceId` (loads the CSR library on first use). */
export async function createKeyAndCsr(deviceId: string): Promise<KeyAndCsr> {
  const { createDeviceKeyAndCsr } = await import('./csr.js');
  return createDeviceKeyAndCsr(deviceId);
}

export interface NewCertificate extends KeyAndCsr {
  certificatePem: string;
  serial: string;
  notAfter: Date;
}

/** What rotation needs of the client: its id and request/response (`DeviceClient` has both). */
export interface RotatingClient {
  readonly deviceId: string;
  request<T>(topic: string, payload: object, options?: RequestOptions<T>): Promise<T>;
}

export interface RotateOptions {
  /** The CSR to send (from a secure element); default: a new software P-256 key and its CSR. */
  csr?: KeyAndCsr;
  timeoutMs?: number;
}

/**
 * Asks the broker for a new certificate over the current connection. Store the result before
 * using it: the old certificate stays valid until it expires or is revoked, so a device that
 * loses power here still gets in with the old one. Rejects with the `BatonError` of the
 * `…/rejected` reply (e.g. `CsrSubjectMismatch`, `WeakKey`).
 */
export async function rotateCertificate(client: RotatingClient, options: RotateOptions = {}): Promise<NewCertificate> {
  const keyAndCsr = options.csr ?? (await createKeyAndCsr(client.deviceId));
  const reply = await client.request(
    topics.certificates(client.deviceId, 'create-from-csr'),
    { csr: keyAndCsr.csrPem },
    { schema: createFromCsrAcceptedSchema, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) },
  );
  return { ...keyAndCsr, certificatePem: reply.certificate, serial: reply.serial, notAfter: new Date(reply.notAfter) };
}

/** A client whose connections are built from mqtt.js options (`DeviceClient.mqtt.options`). */
export interface CredentialTarget {
  readonly mqtt: { options: { cert?: unknown; key?: unknown } };
}

/**
 * Makes every later connection of `client` (its reconnects) present the new certificate and key;
 * the current connection is unchanged. mqtt.js builds each connection from `client.options`, so
 * this is all a reconnect needs. A key that lives in a secure element cannot be handed over here.
 */
export function useCertificate(client: CredentialTarget, certificate: Pick<NewCertificate, 'certificatePem' | 'privateKeyPem'>): void {
  if (certificate.privateKeyPem === undefined) {
    throw new BatonError('InvalidRequest', 'useCertificate needs the private key PEM of the new certificate');
  }
  client.mqtt.options.cert = certificate.certificatePem;
  client.mqtt.options.key = certificate.privateKeyPem;
}
