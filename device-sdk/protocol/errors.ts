/**
 * The one catalogue of Baton's stable error codes.
 *
 * A code is part of the wire contract: it appears in MQTT `…/rejected` replies, on
 * `devices/{id}/errors`, in RFC 9457 problem+json bodies (`code`), and in job status details
 * reported by devices. Tests assert codes, never messages. Each entry carries the HTTP status the
 * admin API answers with, so the REST and MQTT sides cannot drift apart.
 */
export const errorCatalogue = {
  // --- generic request errors -------------------------------------------------------------
  InvalidJSON: { http: 400, description: 'The payload or body is not valid JSON.' },
  InvalidRequest: { http: 400, description: 'The payload or body does not match its schema.' },
  PayloadTooLarge: { http: 413, description: 'The payload exceeds the configured size limit.' },
  TooDeep: { http: 400, description: 'The JSON document nests deeper than allowed.' },
  Unauthorized: { http: 401, description: 'Missing or invalid credentials.' },
  Forbidden: { http: 403, description: 'The credentials do not allow this operation.' },
  RequestTimeout: { http: 408, description: 'The request (headers and body) did not arrive in time; the connection is closed.' },
  NotFound: { http: 404, description: 'The resource does not exist.' },
  Conflict: { http: 409, description: 'The resource already exists or is in a conflicting state.' },
  VersionConflict: { http: 409, description: 'The expected version differs from the current one.' },
  RateLimited: { http: 429, description: 'Too many requests or blocks outstanding; retry later.' },
  Unavailable: { http: 503, description: 'The service is starting, stopping or its store is closed.' },
  InternalError: { http: 500, description: 'An unexpected error; reported, never expected.' },

  // --- certificates and provisioning ------------------------------------------------------
  InvalidCsr: { http: 400, description: 'The CSR is malformed, not PEM, or its signature is invalid.' },
  CsrSubjectMismatch: { http: 400, description: "The CSR's common name differs from the device id." },
  WeakKey: { http: 400, description: 'The key is of an unsupported type or too short (RSA < 2048 bits).' },
  NotAllowed: { http: 403, description: 'The serial or device class is not admitted by the template.' },
  AlreadyProvisioned: { http: 409, description: 'This hardware serial has already registered.' },

  // --- firmware manifests and delivery (device-side verification codes) ------------------
  SignatureInvalid: { http: 400, description: 'The manifest signature does not verify.' },
  UntrustedKey: { http: 400, description: 'The manifest is signed by a key that is not trusted.' },
  Expired: { http: 400, description: "The manifest's expiresAt is not later than the trusted time." },
  Replay: { http: 400, description: 'The manifest sequence is not greater than the installed one.' },
  Rollback: { http: 400, description: 'The security counter is lower than the installed one.' },
  Incompatible: { http: 400, description: 'The firmware is for another device class or does not fit.' },
  TooLarge: { http: 400, description: 'More bytes arrived than the manifest size, or the manifest is oversize.' },
  ChunkDigestMismatch: { http: 400, description: "A block's SHA-256 differs from the chunk table." },
  ChunkTableMismatch: { http: 400, description: "The chunk table's SHA-256 differs from the manifest." },
  ImageDigestMismatch: { http: 400, description: "The whole image's SHA-256 differs from the manifest." },
  InUse: { http: 409, description: 'The resource is referenced by an active job.' },

  // --- jobs ---------------------------------------------------------------------------------
  InvalidStateTransition: { http: 409, description: 'The job or execution status change is not allowed from its current status.' },
  VersionMismatch: { http: 409, description: "The expectedVersion differs from the execution's current versionNumber." },
  TerminalState: { http: 409, description: 'The execution or job has already finished.' },
} as const satisfies Record<string, { http: number; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];

/** An error with a stable code, thrown by services and translated by the MQTT and HTTP edges. */
export class BatonError extends Error {
  override readonly name = 'BatonError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Structured detail safe to show the caller (e.g. offending fields). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  get httpStatus(): number {
    return errorCatalogue[this.code].http;
  }
}

export function isBatonError(err: unknown): err is BatonError {
  return err instanceof BatonError;
}
