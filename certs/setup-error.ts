/**
 * Why the CA or the server certificate could not be set up at start.
 *
 * These are operator configuration faults found while booting, never sent to a device or an API
 * client, so they are not in the wire error catalogue (`device-sdk/protocol/errors.ts`). The
 * reason is stable, for tests and for `main.ts` to print a precise hint.
 */
export type CertSetupReason =
  | 'PassphraseRequired' // the key file is encrypted and no passphrase was given
  | 'WrongPassphrase' // the passphrase does not decrypt the key file
  | 'Unreadable' // a file is missing, not PEM, or not the expected kind of object
  | 'Incomplete' // only one of the cert/key pair exists in the CA directory
  | 'KeyMismatch' // the private key does not belong to the certificate
  | 'NotACa' // the certificate lacks basicConstraints CA:true
  | 'UnsupportedKey' // the CA key is not ECDSA P-256/P-384 or RSA >= 2048
  | 'Expired'; // the CA certificate is outside its validity period

export class CertSetupError extends Error {
  override readonly name = 'CertSetupError';
  constructor(
    readonly reason: CertSetupReason,
    message: string,
  ) {
    super(message);
  }
}
