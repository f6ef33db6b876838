/**
 * The MQTT edge of shadows: a device publishes `devices/{id}/{s}/get|update|delete` and is
 * answered on `…/accepted` or `…/rejected` at QoS 1 (AWS IoT Device Shadow's request/response
 * shape). A rejection carries the error code and the request's clientToken and keeps the
 * connection up; it is answered here rather than on `devices/{id}/errors`, because that is where
 * a device waiting for the reply listens. The ACL has already checked that `{id}` is the
 * publishing device's own.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { topics } from '../../device-sdk/protocol/topics.js';
import type { InboundHandler, InboundRouter } from '../mqtt/inbound.js';
import { requestReplyHandler } from '../mqtt/request-reply.js';
import type { Publisher } from '../mqtt/publisher.js';
import { parseTokenRequest, parseUpdateRequest, type ShadowLimits } from './limits.js';
import { toRejected } from './rejected.js';
import type { Reply, ShadowService } from './service.js';
import type { ShadowKey } from './store.js';

export interface ShadowInboundDeps {
  shadows: ShadowService;
  publisher: Publisher;
  limits: ShadowLimits;
  clock: () => number;
  registry: Registry;
  log: Logger;
}

type Operation = 'get' | 'update' | 'delete';

/** Parses the payload and runs the request; `accept` publishes the `…/accepted` reply. */
type Serve = (key: ShadowKey, payload: Buffer, accept: Reply) => Promise<unknown>;

export function registerShadowInbound(router: InboundRouter, deps: ShadowInboundDeps): void {
  const { shadows, limits, publisher, log } = deps;
  const requests = new Counter({
    name: 'baton_shadow_requests_total',
    help: 'Shadow requests from devices over MQTT, by operation and outcome (accepted, or the error code).',
    labelNames: ['op', 'outcome'],
    registers: [deps.registry],
  });

  const operations: Record<Operation, Serve> = {
    get: async (key, payload, accept) => accept(await shadows.get(key, parseTokenRequest(payload, limits).clientToken)),
    update: (key, payload, accept) => shadows.update(key, parseUpdateRequest(payload, limits), 'device', accept),
    delete: (key, payload, accept) => shadows.delete(key, 'device', parseTokenRequest(payload, limits).clientToken, accept),
  };

  const handler = (op: Operation, serve: Serve): InboundHandler =>
    requestReplyHandler(
      {
        route: ({ principal, topic }) => {
          if (principal.kind !== 'device') return undefined;
          const key: ShadowKey = { deviceId: principal.deviceId, shadowName: topic.params.shadowName };
          return { topic: topics.shadow(key.deviceId, key.shadowName, op), key };
        },
        serve: ({ key }, { payload }, accept) => serve(key, payload, accept),
        rejected: (err) => toRejected(err, deps.clock()),
        onOutcome: (outcome) => requests.inc({ op, outcome }),
      },
      { publisher, log },
    );

  for (const op of ['get', 'update', 'delete'] as const) router.on(`shadow/${op}`, handler(op, operations[op]));
}
