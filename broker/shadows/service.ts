/**
 * The shadow service: the one place where a request meets the store and its consequences are
 * published. Both edges call it, devices over MQTT (mqtt.ts) and operators over REST (routes.ts),
 * so an update from either is serialized with the other and announced alike:
 *
 *   commit (durable) → the requester's reply, if any → `update/delta` → `update/documents` →
 *   `fleet/events/shadow/{deviceId}`
 *
 * All are issued in that order in one synchronous step after the commit, so on every topic the
 * versions arrive in increasing order. A failed announcement is logged, never un-does a commit.
 */
import type { Logger } from 'pino';
import { topics } from '../../device-sdk/protocol/topics.js';
import type { ShadowDocument, ShadowUpdateRequest } from '../../device-sdk/protocol/shadow.js';
import type { Publisher } from '../mqtt/publisher.js';
import { toFleetEvent, type HistoryEntry, type ShadowSource } from './changes.js';
import { applyUpdate, deleteShadow, toDocument, type DeleteResult, type UpdateResult } from './document.js';
import type { ShadowLimits } from './limits.js';
import { withClientTokenAsync } from '../mqtt/request-reply.js';
import type { ShadowKey, ShadowRepo, ShadowSummary } from './store.js';
import { documentsJson, fleetEventJson } from './wire-json.js';

export interface ShadowServiceDeps {
  repo: ShadowRepo;
  publisher: Publisher;
  limits: ShadowLimits;
  /** Epoch milliseconds. */
  clock: () => number;
  log: Logger;
}

/** Publishes the requester's own reply (MQTT `…/accepted`); called before any announcement. */
export type Reply = (accepted: object) => Promise<void>;

export interface ShadowService {
  /** The document with its delta; NotFound if never written or deleted. */
  get(key: ShadowKey, clientToken?: string): Promise<ShadowDocument>;
  update(key: ShadowKey, request: ShadowUpdateRequest, source: ShadowSource, reply?: Reply): Promise<UpdateResult>;
  delete(key: ShadowKey, source: ShadowSource, clientToken?: string, reply?: Reply): Promise<DeleteResult>;
  list(deviceId: string): Promise<ShadowSummary[]>;
  history(key: ShadowKey, limit?: number): Promise<HistoryEntry[]>;
}

export function createShadowService({ repo, publisher, limits, clock, log }: ShadowServiceDeps): ShadowService {
  const publish = (topic: string, body: object | string) =>
    publisher.publish(topic, body).catch((err: unknown) => log.warn({ err, topic }, 'shadow message not published'));
  const shadowTopic = (key: ShadowKey, op: string) => topics.shadow(key.deviceId, key.shadowName, op);
  const fleetEvent = (key: ShadowKey, change: Parameters<typeof toFleetEvent>[2]) =>
    publish(topics.shadowEvent(key.deviceId), fleetEventJson(toFleetEvent(key.deviceId, key.shadowName, change)));

  return {
    async get(key, clientToken) {
      return toDocument(await repo.get(key), clock(), clientToken);
    },

    async update(key, request, source, reply) {
      const result = await withClientTokenAsync(request.clientToken, () =>
        repo.change(key, (current) => applyUpdate(current, request, { now: clock(), limits, source })),
      );
      await Promise.all([
        reply?.(result.accepted),
        result.delta && publish(shadowTopic(key, 'update/delta'), result.delta),
        publish(shadowTopic(key, 'update/documents'), documentsJson(result.documents)),
        fleetEvent(key, result.documents),
      ]);
      return result;
    },

    async delete(key, source, clientToken, reply) {
      const result = await withClientTokenAsync(clientToken, () =>
        repo.change(key, (current) => deleteShadow(current, { now: clock(), source, clientToken })),
      );
      // AWS sends no `update/documents` on delete; integrations get the event with `current: null`.
      await Promise.all([reply?.(result.accepted), fleetEvent(key, result.change)]);
      return result;
    },

    list: (deviceId) => repo.list(deviceId),
    history: (key, limit) => repo.history(key, limit),
  };
}
