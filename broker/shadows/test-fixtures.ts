/** Test-only helpers for the shadow unit tests. */
import { BatonError, type ErrorCode } from '../../device-sdk/protocol/errors.js';

export interface Rejection {
  code: ErrorCode;
  details: Record<string, unknown> | undefined;
}

/** The BatonError `fn` throws, as `{ code, details }`; tests assert codes, never messages. */
export function rejectionOf(fn: () => unknown): Rejection {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatonError) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected a rejection, but the call succeeded');
}
