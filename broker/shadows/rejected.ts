/**
 * Turning failures into `…/rejected` replies. Every BatonError thrown by the shadow core carries
 * the request's `clientToken` in `details` once the token is known (withClientToken in
 * broker/mqtt/request-reply.ts), so the edge can echo it (AWS echoes `clientToken` on
 * rejections too) without re-parsing the payload.
 */
import { isBatonError } from '../../device-sdk/protocol/errors.js';
import type { ShadowRejected } from '../../device-sdk/protocol/shadow.js';
import { toEpochSeconds } from './time.js';

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
