/**
 * Raising deltas to the app's handler: once per version, one at a time, newest first.
 *
 * A delta can reach the device twice: the broker queues `update/delta` for a persistent session
 * while the device is away, and the SDK reads the document (with its delta) at every connect
 * anyway, because a broker that restarted has no session to queue in. Versions tell them apart:
 * every accepted update increments the version by exactly one, so a delta at or below the
 * version already dealt with carries nothing new. A delta is the whole outstanding difference,
 * not an increment, so when several arrive while the handler is busy only the newest is kept.
 *
 * "Dealt with" means the handler resolved and what it returned was reported (or it returned
 * nothing). If the handler throws or the report fails, the version is not dealt with, and the
 * same delta is raised again when the SDK next reads the document (at the next connect): a
 * handler must be idempotent, which applying desired state normally is.
 */
import { BatonError } from './protocol/errors.js';
import { isJsonObject } from './protocol/json.js';
import type { JsonObject } from './protocol/shadow.js';

/** What the handler returns is reported as the shadow's `reported` state; nothing, or `{}`, reports nothing. */
export type DeltaHandler = (delta: JsonObject, version: number) => DeltaResult | Promise<DeltaResult>;
export type DeltaResult = JsonObject | undefined | void;

export interface DeltaDeps {
  /** Reports the handler's result; resolves with the version the update was accepted at. */
  report(reported: JsonObject): Promise<number>;
  /** Reads the document again, offering its delta; after a report that another update raced. */
  refresh(): Promise<void>;
  onError(err: unknown): void;
}

interface Delta {
  state: JsonObject;
  version: number;
}

export class DeltaDispatcher {
  private handler: DeltaHandler | undefined;
  /** The highest version dealt with: raised and reported, or known to have no delta. */
  private done = -1;
  /** The version the handler is working on. */
  private running: number | undefined;
  private pending: Delta | undefined;

  constructor(private readonly deps: DeltaDeps) {}

  /** Installs the handler and raises what is pending; returns a function that removes it. */
  setHandler(handler: DeltaHandler): () => void {
    // Two handlers would each report their own answer to one delta: refuse the second.
    if (this.handler) throw new BatonError('Conflict', 'this shadow already has a delta handler; remove it first');
    this.handler = handler;
    void this.pump();
    return () => {
      if (this.handler === handler) this.handler = undefined;
    };
  }

  /** A delta seen in `update/delta` or in a document; `undefined` when the document at `version` had none. */
  offer(state: JsonObject | undefined, version: number): void {
    if (version <= Math.max(this.done, this.running ?? -1)) return;
    if (state === undefined || Object.keys(state).length === 0) {
      this.markDone(version);
      return;
    }
    if (!this.pending || version > this.pending.version) this.pending = { state, version };
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (this.running === undefined && this.handler && this.pending) {
      const delta = this.pending;
      this.pending = undefined;
      this.running = delta.version;
      try {
        await this.raise(this.handler, delta);
      } catch (err) {
        this.deps.onError(err);
      } finally {
        this.running = undefined;
      }
    }
  }

  private async raise(handler: DeltaHandler, delta: Delta): Promise<void> {
    const result = await handler(delta.state, delta.version);
    if (!isJsonObject(result) || Object.keys(result).length === 0) {
      this.markDone(delta.version);
      return;
    }
    const accepted = await this.deps.report(result);
    if (accepted === delta.version + 1) {
      // Nothing came between the delta and our report, so a delta at `accepted` is only what
      // the handler chose not to report: raising it again would ask the same question twice.
      this.markDone(accepted);
      return;
    }
    // Another update landed in between: a delta older than our report is stale, and the one at
    // `accepted` may not be sent (the broker sends a delta only when it changed). Read it.
    this.markDone(delta.version);
    if (this.pending && this.pending.version < accepted) this.pending = undefined;
    await this.deps.refresh();
  }

  private markDone(version: number): void {
    this.done = Math.max(this.done, version);
    if (this.pending && this.pending.version <= this.done) this.pending = undefined;
  }
}
