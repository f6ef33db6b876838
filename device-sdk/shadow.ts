/**
 * `client.shadow(name?)`: a device's handle on one of its shadows (the classic one, or a named
 * one), shaped like the AWS IoT Device SDK's shadow client. See "Shadows" in README.md.
 *
 * The handle subscribes to `…/update/delta` and `…/update/documents` when it is created, and
 * every request waits for those and for its `/accepted` and `/rejected` (requests.ts), so
 * nothing the broker answers is missed. Named shadows share their filters
 * (`…/shadow/name/+/update/delta`, and `…/shadow/name/+/+/accepted` for the replies), so the
 * number of shadows a device uses does not add subscriptions; each handle takes only the
 * messages on its own topics. At every (re)connect it reads the document and raises
 * its delta, whatever the session state: a broker that restarted has no session, and a device
 * with a persistent session gets the queued delta as well, which shadow-deltas.ts drops by
 * version. The snapshots (shadow-state.ts) follow every document, reply and delta it sees.
 */
import type { z } from 'zod';
import type { DeviceClient } from './client.js';
import { BatonError, isBatonError } from './protocol/errors.js';
import { parseJsonObject } from './protocol/json.js';
import {
  shadowDeltaSchema,
  shadowDocumentSchema,
  shadowDocumentsSchema,
  shadowUpdateAcceptedSchema,
  type JsonObject,
  type ShadowDocument,
  type ShadowUpdateAccepted,
} from './protocol/shadow.js';
import { SHADOW_NAME_PATTERN, topics } from './protocol/topics.js';
import { DeltaDispatcher, type DeltaHandler } from './shadow-deltas.js';
import { ShadowState } from './shadow-state.js';
import type { TopicHandler } from './subscriptions.js';

/** How many times `report()` sends an update that meets `VersionConflict` before giving up. */
export const REPORT_ATTEMPTS = 3;

/** Deltas and documents are bounded by the broker's state limit; this only stops a runaway payload. */
const MESSAGE_MAX_BYTES = 1 << 20;

/** What a shadow handle needs of the client. */
export type ShadowClient = Pick<DeviceClient, 'deviceId' | 'connected' | 'request' | 'onTopic' | 'on'>;

export interface ShadowRequestOptions {
  /** Per request; defaults to the client's `requestTimeoutMs`. */
  timeoutMs?: number;
}

export class Shadow {
  private readonly state = new ShadowState();
  private readonly deltas: DeltaDispatcher;
  /** Resolves once `update/delta` and `update/documents` are subscribed. */
  private readonly ready: Promise<void>;
  /** Reports are sent one at a time, so a device's own reports never conflict with each other. */
  private reports: Promise<unknown> = Promise.resolve();

  /** Use `client.shadow(name?)`, which keeps one handle per shadow. */
  constructor(
    private readonly client: ShadowClient,
    /** Undefined for the classic (unnamed) shadow. */
    readonly name: string | undefined,
    private readonly onError: (err: unknown) => void,
  ) {
    if (name !== undefined && !SHADOW_NAME_PATTERN.test(name)) {
      throw new BatonError('InvalidRequest', 'shadow names are 1–64 characters of A-Z a-z 0-9 _ - :', { name });
    }
    this.deltas = new DeltaDispatcher({ report: async (r) => (await this.report(r)).version, refresh: () => this.sync(), onError });
    const named = name !== undefined;
    this.ready = Promise.all([
      client.onTopic(topics.shadowFilter(client.deviceId, named, 'update/delta'), this.onDeltaMessage),
      client.onTopic(topics.shadowFilter(client.deviceId, named, 'update/documents'), this.onDocuments),
    ]).then(() => undefined);
    this.ready.catch(onError);
    client.on('connect', () => void this.sync());
    if (client.connected) void this.sync();
  }

  /** The desired state as last seen; frozen, replaced (never mutated) as news arrives. */
  get desired(): JsonObject {
    return this.state.desired;
  }

  /** The reported state as last seen; frozen, replaced (never mutated) as news arrives. */
  get reported(): JsonObject {
    return this.state.reported;
  }

  /** The version the snapshots are as of; undefined before the first document or reply. */
  get version(): number | undefined {
    return this.state.version;
  }

  /** The whole document; rejects with `NotFound` if the shadow was never written (or was deleted), as in AWS. */
  async get(options: ShadowRequestOptions = {}): Promise<ShadowDocument> {
    await this.ready;
    try {
      const doc = await this.request(this.topic('get'), {}, shadowDocumentSchema, options);
      this.state.applyDocument(doc);
      this.deltas.offer(doc.state.delta, doc.version);
      return doc;
    } catch (err) {
      if (isNotFound(err)) this.state.applyNotFound();
      throw err;
    }
  }

  /**
   * Merges `reported` (a JSON merge patch: `null` deletes a key) into the reported state. The
   * update carries the version the handle knows; on `VersionConflict` it reads the document
   * again (which also raises any new delta) and resends, `REPORT_ATTEMPTS` times in all.
   */
  report(reported: JsonObject, options: ShadowRequestOptions = {}): Promise<ShadowUpdateAccepted> {
    const sent = this.reports.then(() => this.sendReport(reported, options));
    this.reports = sent.catch(() => undefined);
    return sent;
  }

  /**
   * Calls `handler(delta, version)` for each new delta (once per version, one at a time), and
   * reports what it resolves to. One handler per shadow; returns a function that removes it.
   */
  onDelta(handler: DeltaHandler): () => void {
    return this.deltas.setHandler(handler);
  }

  private async sendReport(reported: JsonObject, options: ShadowRequestOptions): Promise<ShadowUpdateAccepted> {
    await this.ready;
    for (let attempt = 1; ; attempt++) {
      const version = this.state.lockVersion();
      const body = { state: { reported }, ...(version === undefined ? {} : { version }) };
      try {
        const accepted = await this.request(this.topic('update'), body, shadowUpdateAcceptedSchema, options);
        this.state.applyAccepted(accepted);
        return accepted;
      } catch (err) {
        if (!isBatonError(err) || err.code !== 'VersionConflict' || attempt >= REPORT_ATTEMPTS) throw err;
        await this.get(options).catch(ignoreNotFound); // NotFound: deleted meanwhile; the retry re-creates it
      }
    }
  }

  /** At every (re)connect, and after a report another update raced: read the document, raise its delta. */
  private async sync(): Promise<void> {
    await this.get().catch(ignoreNotFound).catch(this.onError);
  }

  private request<T>(topic: string, payload: object, schema: z.ZodType<T>, options: ShadowRequestOptions): Promise<T> {
    return this.client.request(topic, payload, { schema, ...options });
  }

  private topic(op: string): string {
    return topics.shadow(this.client.deviceId, this.name, op);
  }

  // Named handles share one filter per message kind: each takes only its own shadow's messages.
  private readonly onDeltaMessage: TopicHandler = ({ topic, payload }) => {
    if (topic !== this.topic('update/delta')) return;
    const delta = parseMessage(shadowDeltaSchema, payload, 'update/delta');
    this.state.applyDelta(delta);
    // A delta queued in the persistent session arrives right after CONNACK, before the SDK has
    // finished connecting and could report an answer. The get at every connect (sync) carries
    // the same delta once it has, so one that arrives early is left to it.
    if (this.client.connected) this.deltas.offer(delta.state, delta.version);
  };

  private readonly onDocuments: TopicHandler = ({ topic, payload }) => {
    if (topic !== this.topic('update/documents')) return;
    this.state.applyDocument(parseMessage(shadowDocumentsSchema, payload, 'update/documents').current);
  };
}

function parseMessage<T>(schema: z.ZodType<T>, payload: Buffer, what: string): T {
  const parsed = schema.safeParse(parseJsonObject(payload, MESSAGE_MAX_BYTES));
  if (!parsed.success) throw new BatonError('InternalError', `the broker sent a malformed ${what}`);
  return parsed.data;
}

const isNotFound = (err: unknown): boolean => isBatonError(err) && err.code === 'NotFound';

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}
