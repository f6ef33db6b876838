/**
 * Request/response over MQTT, the shape AWS IoT uses for shadows, jobs and certificates: publish
 * a JSON request carrying a `clientToken` on `T`, and wait for the reply with the same token on
 * `T/accepted` or `T/rejected`. Shadows, jobs and certificate rotation are built on this.
 *
 * The replies are subscribed with covering filters, one pair per request shape
 * (`replyFilter` in protocol/topics.ts: `devices/{id}/jobs/+/+/accepted` serves every job's
 * `get` and `update`), never per job id or shadow name, and kept for the client's life: a
 * long-lived device holds a fixed handful of reply filters, however many requests it makes.
 *
 * Guarantees: the reply subscriptions are granted before the request is published; a reply is
 * matched by token and topic, so concurrent requests never see each other's replies; every
 * request settles exactly once: accepted, rejected (a `BatonError` with the reply's protocol
 * `code`), dropped by the broker (the code it reports on `devices/{id}/errors`), timed out
 * (`Unavailable`), or failed at close.
 */
import type { z } from 'zod';
import type { Clock } from './clock.js';
import { BatonError, errorCodes, type ErrorCode } from './protocol/errors.js';
import { isJsonObject } from './protocol/json.js';
import type { DeviceError } from './protocol/schemas.js';
import { replyFilter, type ReplyOutcome } from './protocol/topics.js';
import type { TopicHandler } from './subscriptions.js';
import { issueFields } from './protocol/validation.js';

export interface RequestOptions<T> {
  /** Defaults to the client's `requestTimeoutMs`. */
  timeoutMs?: number;
  /** Validates the accepted reply (e.g. `shadowDocumentSchema`); a mismatch fails with `InternalError`. */
  schema?: z.ZodType<T>;
}

/** What requests need from the client. */
export interface RequestLink {
  online(): boolean;
  onTopic(filter: string, handler: TopicHandler): Promise<unknown>;
  publish(topic: string, payload: string, qos: 1): Promise<void>;
}

interface Pending {
  topic: string;
  timer: unknown;
  resolve(reply: Record<string, unknown>): void;
  reject(err: Error): void;
}

export class Requests {
  private readonly pending = new Map<string, Pending>();
  /** Reply filters subscribed (or being subscribed), each shared by every request topic it covers. */
  private readonly replies = new Map<string, Promise<void>>();

  constructor(
    private readonly link: RequestLink,
    private readonly deps: { clock: Clock; newToken: () => string; defaultTimeoutMs: number },
  ) {}

  async request<T = Record<string, unknown>>(topic: string, payload: object, options: RequestOptions<T> = {}): Promise<T> {
    if (!this.link.online()) throw new BatonError('Unavailable', `cannot request ${topic}: not connected`, { topic, reason: 'offline' });
    const given = (payload as { clientToken?: unknown }).clientToken;
    const token = typeof given === 'string' ? given : this.deps.newToken();
    if (this.pending.has(token)) throw new BatonError('Conflict', `a request with clientToken ${token} is already pending`, { topic });
    const timeoutMs = options.timeoutMs ?? this.deps.defaultTimeoutMs;
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = this.deps.clock.setTimeout(
        () => this.settle(token, new BatonError('Unavailable', `no reply to ${topic} within ${timeoutMs} ms`, { topic, timeoutMs, reason: 'timeout' })),
        timeoutMs,
      );
      this.pending.set(token, { topic, timer, resolve, reject });
    });
    this.send(topic, { ...payload, clientToken: token }).catch((err: unknown) => this.settle(token, err as Error));
    return parseReply(await reply, topic, options.schema);
  }

  /** The broker dropped a message on a request topic: fail the oldest request pending on it. */
  onDeviceError(error: DeviceError): void {
    for (const [token, p] of this.pending) {
      if (p.topic !== error.topic) continue;
      this.settle(token, new BatonError(error.code, error.message, { topic: error.topic, source: 'errors' }));
      return;
    }
  }

  failAll(err: Error): void {
    for (const token of [...this.pending.keys()]) this.settle(token, err);
  }

  private async send(topic: string, body: object): Promise<void> {
    await this.subscribeReplies(topic);
    await this.link.publish(topic, JSON.stringify(body), 1);
  }

  private async subscribeReplies(topic: string): Promise<void> {
    await Promise.all((['accepted', 'rejected'] as const).map((outcome) => this.subscribeReply(topic, outcome)));
  }

  /** A topic outside the protocol's request table (a feature module's own) gets its exact reply topic. */
  private subscribeReply(topic: string, outcome: ReplyOutcome): Promise<void> {
    const filter = replyFilter(topic, outcome) ?? `${topic}/${outcome}`;
    let ready = this.replies.get(filter);
    if (!ready) {
      ready = this.link.onTopic(filter, this.onReply).then(() => undefined);
      ready.catch(() => this.replies.delete(filter)); // try again with the next request
      this.replies.set(filter, ready);
    }
    return ready;
  }

  private readonly onReply: TopicHandler = ({ topic, payload }) => {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      return; // not a reply to any request of ours
    }
    if (!isJsonObject(body) || typeof body['clientToken'] !== 'string') return;
    const token = body['clientToken'];
    const p = this.pending.get(token);
    if (!p) return;
    if (topic === `${p.topic}/accepted`) this.settle(token, undefined, body);
    else if (topic === `${p.topic}/rejected`) this.settle(token, rejectedError(p.topic, body));
  };

  private settle(token: string, err: Error | undefined, reply?: Record<string, unknown>): void {
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    this.deps.clock.clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(reply ?? {});
  }
}

function rejectedError(topic: string, body: Record<string, unknown>): BatonError {
  const code = errorCodes.includes(body['code'] as ErrorCode) ? (body['code'] as ErrorCode) : 'InternalError';
  const message = typeof body['message'] === 'string' ? body['message'] : `${topic} was rejected`;
  return new BatonError(code, message, { topic, reply: body });
}

function parseReply<T>(reply: Record<string, unknown>, topic: string, schema: z.ZodType<T> | undefined): T {
  if (!schema) return reply as T;
  const parsed = schema.safeParse(reply);
  if (parsed.success) return parsed.data;
  const fields = issueFields(parsed.error);
  throw new BatonError('InternalError', `the reply to ${topic} does not match its schema`, { topic, fields });
}
