import type { ParsedTopic } from '../../device-sdk/protocol/index.js';
import type { Principal } from './principal.js';

export interface InboundMessage {
  principal: Principal;
  topic: ParsedTopic;
  payload: Buffer;
  qos: 0 | 1 | 2;
}

/**
 * What to do with a device's message once its handler has run: `forward` delivers it to
 * subscribers (integrations reading telemetry), `consume` keeps it inside the broker (requests
 * answered on reply topics). A handler throws a `BatonError` to reject it: the broker reports the
 * code on `devices/{id}/errors` (request handlers answer on their own `…/rejected` instead) and
 * the connection stays up.
 */
export type InboundOutcome = 'forward' | 'consume';
export type InboundHandler = (message: InboundMessage) => Promise<InboundOutcome>;

/** Topic kind (from the protocol's topic table) → the service that handles it. */
export class InboundRouter {
  private readonly handlers = new Map<string, InboundHandler>();

  on(kind: string, handler: InboundHandler): this {
    if (this.handlers.has(kind)) throw new Error(`a handler for ${kind} is already registered`);
    this.handlers.set(kind, handler);
    return this;
  }

  get(kind: string): InboundHandler | undefined {
    return this.handlers.get(kind);
  }
}
