/**
 * Turning failures into `…/rejected` replies. Every BatonError thrown by the shadow core carries
 * the request's `clientToken` in `details` once the token is known, so the edge can echo it
 * (AWS echoes `clientToken` on rejections too) without re-parsing the payload.
 */
import { BatonError, isBatonError } from '../../device-sdk/protocol/errors.js';
import type { ShadowRejected } from '../../device-sdk/protocol/shadow.js';
import { toEpochSeconds } from './time.js';

/** Runs `fn`; a BatonError it throws is re-thrown with `details.clientToken` set. */
export function withClientToken<T>(clientToken: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (clientToken === undefined || !isBatonError(err)) throw err;
    throw new BatonError(err.code, err.message, { ...err.details, clientToken });
  }
}

/** `withClientToken` for asynchronous work (a store write that fails after the request was parsed). */
export async function withClientTokenAsync<T>(clientToken: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    return withClientToken(clientToken, () => {
      throw err;
    });
  }
}

/**
 * The rejected reply for any failure. Anything that is not a BatonError is a bug: it is answered
 * as InternalError with a fixed message, so internals never reach a device; the caller logs it.
 */
export function toRejected(err: unknown, nowMs: number): ShadowRejected {
  const timestamp = toEpochSeconds(nowMs);
  if (!isBatonError(err)) return { code: 'InternalError', message: 'internal error', timestamp };
  const token = err.details?.['clientToken'];
  const reply: ShadowRejected = { code: err.code, message: err.message, timestamp };
  if (typeof token === 'string') reply.clientToken = token;
  return reply;
}
