/**
 * The one shape of every device request over MQTT (AWS IoT's): the device publishes a request,
 * the broker answers on `{topic}/accepted` or, with a stable code, on `{topic}/rejected` at QoS 1,
 * and the connection stays up. Shadows, jobs and certificates each supply what differs: where
 * the reply goes, the work, and the body of a rejection.
 */
import type { Logger } from 'pino';
import { BatonError, isBatonError } from '../../device-sdk/protocol/errors.js';
import type { InboundHandler, InboundMessage } from './inbound.js';
import type { Publisher } from './publisher.js';

export interface RequestReply<Route extends { topic: string }> {
  /**
   * Where the replies go (`topic`, the request topic they hang under) and whatever the serving
   * needs from the message (device id, shadow name, …); undefined when this principal may not ask.
   */
  route(message: InboundMessage): Route | undefined;
  /**
   * Parses and serves the request, calling `accept` with the accepted reply. A callback rather
   * than a return value, so a service can answer the requester before it announces the change
   * (a shadow's reply precedes its `update/delta`).
   */
  serve(route: Route, message: InboundMessage, accept: (body: object) => Promise<void>): Promise<unknown>;
  /** The `…/rejected` body for a coded failure (code, message, the request's clientToken, …). */
  rejected(err: BatonError, message: InboundMessage): object;
  /** Counts each request by outcome: `accepted` or the error code. */
  onOutcome(outcome: string): void;
}

export function requestReplyHandler<Route extends { topic: string }>(
  spec: RequestReply<Route>,
  deps: { publisher: Publisher; log: Logger },
): InboundHandler {
  return async function deviceRequest(message) {
    const route = spec.route(message);
    if (route === undefined) return 'consume';
    const { topic } = route;
    const reply = (outcome: 'accepted' | 'rejected', body: object) =>
      deps.publisher.publish(`${topic}/${outcome}`, body).catch((err: unknown) => deps.log.warn({ err, topic, outcome }, 'reply not published'));
    try {
      await spec.serve(route, message, (body) => reply('accepted', body));
      spec.onOutcome('accepted');
    } catch (err) {
      // Anything but a BatonError is a store failure: broker.ts leaves the PUBLISH unacknowledged
      // and closes the connection, so the device resends it after reconnecting (QoS 1).
      if (!isBatonError(err)) throw err;
      spec.onOutcome(err.code);
      await reply('rejected', spec.rejected(err, message));
    }
    return 'consume';
  };
}

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
