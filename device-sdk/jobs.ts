/**
 * Jobs on the device: `jobs.handle(type, handler)` and the SDK runs the work the broker queues.
 *
 *     const jobs = attachJobs(client, { trustedKeys, firmwareVersion: () => '1.4.0', stateFile });
 *     jobs.handle('config', async ({ config }) => applyConfig(config));
 *     jobs.handle('firmware', async ({ download }) => { await install((await download()).path); return { reboot: true }; });
 *
 * On every connect: reconcile (the firmware running now and the execution a restart interrupted),
 * then run the queue one execution at a time: peek at the next (`…/jobs/get`, `…/{jobId}/get`),
 * and if a handler takes its type, `start-next` and run it. `notify-next` wakes the loop, and
 * aborts the running handler's `signal` when its execution is no longer the device's next (it
 * was canceled). The outcome is reported on `…/{jobId}/update`: SUCCEEDED, FAILED with the
 * error's code as `reason`, or REJECTED when the job fails verification (a config envelope or a
 * firmware manifest that does not verify). A config job's config is verified before the handler
 * sees it, and mirrored into the shadow's `reported.config` once applied.
 */
import type { DownloadOptions, DownloadResult } from './firmware/download.js';
import { downloadFirmware } from './firmware/download.js';
import type { FirmwareLink } from './firmware/link.js';
import type { TrustedKey } from './firmware/manifest.js';
import { writeFileAtomic } from './firmware/atomic-file.js';
import { readFile, rm } from 'node:fs/promises';
import { BatonError, isBatonError, type ErrorCode } from './protocol/errors.js';
import {
  executionReplySchema, jobsGetAcceptedSchema, notifyNextSchema, openConfigEnvelope,
  type ExecutionStatus, type JobDocument, type JobExecution, type JobType, type Progress, type StatusDetails,
} from './protocol/jobs.js';
import type { JsonObject } from './protocol/json.js';
import { topics } from './protocol/topics.js';
import type { RequestOptions } from './requests.js';
import type { TopicHandler, Unsubscribe } from './subscriptions.js';

/** What jobs need of a `DeviceClient` (structural, so tests and other clients can stand in). */
export interface JobsClient {
  readonly deviceId: string;
  readonly connected: boolean;
  request<T>(topic: string, payload: object, options?: RequestOptions<T>): Promise<T>;
  onTopic(filter: string, handler: TopicHandler): Promise<Unsubscribe>;
  on(event: 'connect', listener: () => void): unknown;
  off(event: 'connect', listener: () => void): unknown;
  readonly mqtt: { publishAsync(topic: string, payload: string, options: { qos: 0 | 1 }): Promise<unknown> };
}

export interface JobsOptions {
  /** Keys config envelopes (and firmware manifests) must be signed by: `GET /api/v1/firmware/keys`. */
  trustedKeys?: readonly TrustedKey[];
  /** The firmware running now, reported on every connect; without it there is no reconciliation. */
  firmwareVersion?: () => string;
  /** Remembers the execution a requested reboot interrupts (default: memory, lost with the process). */
  stateFile?: string;
  /** For `download()` in firmware handlers (see firmware/download.ts). */
  firmware?: Omit<DownloadOptions, 'link' | 'deviceId' | 'trustedKeys' | 'onProgress' | 'signal'>;
  /** Step timer sent with start-next and each progress report (the broker times out a silent device). */
  stepTimeoutS?: number;
  /** Mirror an applied config into the shadow's `reported.config` (default true). */
  mirrorConfigToShadow?: boolean;
  /** Device wall clock (ms since epoch): envelope expiry, progress pacing. */
  now?: () => number;
  /** Called once a handler's reboot request is on disk and reported: restart the device here. */
  reboot?: () => void | Promise<void>;
  /** Problems the loop recovers from on its own. */
  onError?: (err: unknown) => void;
}

export interface JobContext {
  job: { jobId: string; type: JobType; document: JobDocument; execution: JobExecution };
  /** A config job's config, verified for this device and job. */
  config: JsonObject | undefined;
  /** Reports IN_PROGRESS with progress (and restarts the step timer). */
  progress(progress: Progress, statusDetails?: StatusDetails): Promise<void>;
  /** A firmware job's image, verified block by block (reports progress as it goes). */
  download(): Promise<DownloadResult>;
  /** Aborted when the execution is canceled. */
  signal: AbortSignal;
}

/** `reboot`: the device restarts to finish; the next connect's reconciliation reports the outcome. */
export type JobResult = void | { statusDetails?: StatusDetails; reboot?: boolean };
export type JobHandler = (ctx: JobContext) => Promise<JobResult>;

/** Codes that mean "this job does not verify": the device refuses it (REJECTED) rather than failing it. */
const REFUSAL_CODES: readonly ErrorCode[] = ['SignatureInvalid', 'UntrustedKey', 'Expired', 'Replay', 'Rollback', 'Incompatible', 'TooLarge'];
const PROGRESS_EVERY_MS = 1000;

interface Interrupted {
  jobId: string;
  status: ExecutionStatus;
}

export class Jobs {
  private readonly handlers = new Map<JobType, JobHandler>();
  private running: { jobId: string; controller: AbortController } | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private rebooting = false;
  private closed = false;
  private interrupted: Interrupted | undefined;
  private readonly unsubscribe: Promise<Unsubscribe>;
  /** The reconcile of the current connection: no job starts before the broker has heard it. */
  private reconciling: Promise<void> | undefined;

  constructor(private readonly client: JobsClient, private readonly options: JobsOptions = {}) {
    client.on('connect', this.onConnect);
    this.unsubscribe = client.onTopic(topics.jobs(client.deviceId, 'notify-next'), this.onNotify);
    this.unsubscribe.catch((err: unknown) => this.report(err));
    if (client.connected) this.onConnect();
  }

  /** Runs `handler` for every job of `type`; the queue is looked at again at once. */
  handle(type: JobType, handler: JobHandler): this {
    this.handlers.set(type, handler);
    this.kick();
    return this;
  }

  /** Tells the broker what runs now and which execution a restart interrupted; see reconcile on the broker. */
  async reconcile(): Promise<unknown> {
    if (!this.options.firmwareVersion) return undefined;
    const interrupted = this.interrupted ?? (await this.loadState());
    const reply = await this.request('reconcile', { firmwareVersion: this.options.firmwareVersion(), ...interrupted });
    if (interrupted) await this.saveState(undefined);
    return reply;
  }

  /** Stops listening and aborts the running handler (its execution stays IN_PROGRESS until it times out or restarts). */
  async close(): Promise<void> {
    this.closed = true;
    this.client.off('connect', this.onConnect);
    this.running?.controller.abort();
    await (await this.unsubscribe.catch(() => undefined))?.();
    await this.draining;
  }

  private readonly onConnect = () => {
    // An execution a reboot interrupted is settled by reconcile; starting the queue first could
    // hand that execution to the handler again.
    this.reconciling = this.reconcile().then(
      () => undefined,
      (err: unknown) => this.report(err),
    );
    void this.reconciling.finally(() => this.kick());
  };

  private readonly onNotify: TopicHandler = ({ payload }) => {
    let parsed;
    try {
      parsed = notifyNextSchema.safeParse(JSON.parse(payload.toString()));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) return this.report(new BatonError('InternalError', 'malformed notify-next'));
    if (this.running && parsed.data.execution?.jobId !== this.running.jobId) this.running.controller.abort();
    this.kick();
  };

  private kick(): void {
    if (this.closed || this.rebooting) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((err: unknown) => this.report(err))
      .finally(() => {
        this.draining = undefined;
        if (this.again) (this.again = false), this.kick();
      });
  }

  /** One execution at a time, while there is one a handler takes. */
  private async drain(): Promise<void> {
    await this.reconciling;
    while (this.client.connected && !this.closed && !this.rebooting) {
      const next = await this.peek();
      if (!next || !this.handlers.has(next.jobDocument.type)) return;
      const { execution } = await this.request('start-next', this.stepTimer(), executionReplySchema);
      if (!execution) return;
      await this.run(execution);
    }
  }

  private async peek(): Promise<JobExecution | null> {
    const queue = await this.request('get', {}, jobsGetAcceptedSchema);
    const first = queue.inProgressJobs[0] ?? queue.queuedJobs[0];
    if (!first) return null;
    return (await this.request(`${first.jobId}/get`, {}, executionReplySchema)).execution;
  }

  private async run(execution: JobExecution): Promise<void> {
    const { jobId, jobDocument: document } = execution;
    const handler = this.handlers.get(document.type)!;
    const controller = new AbortController();
    this.running = { jobId, controller };
    try {
      const config = document.type === 'config' ? this.openConfig(document.envelope, jobId) : undefined;
      const ctx: JobContext = {
        job: { jobId, type: document.type, document, execution },
        config,
        signal: controller.signal,
        progress: (progress, statusDetails) => this.update(jobId, 'IN_PROGRESS', statusDetails, progress),
        download: () => this.download(execution, controller.signal),
      };
      const result = (await handler(ctx)) ?? {};
      if (controller.signal.aborted) return;
      if (result.reboot) return await this.rebootFor(jobId, result.statusDetails);
      if (config && this.options.mirrorConfigToShadow !== false) await this.mirror(config);
      await this.update(jobId, 'SUCCEEDED', result.statusDetails);
    } catch (err) {
      if (controller.signal.aborted) return;
      const code: ErrorCode = isBatonError(err) ? err.code : 'InternalError';
      const message = err instanceof Error ? err.message : String(err);
      await this.update(jobId, REFUSAL_CODES.includes(code) ? 'REJECTED' : 'FAILED', { reason: code, message: message.slice(0, 512) });
    } finally {
      this.running = undefined;
    }
  }

  private openConfig(envelope: string, jobId: string): JsonObject {
    return openConfigEnvelope(envelope, { trustedKeys: this.options.trustedKeys ?? [], deviceId: this.client.deviceId, jobId, now: this.now() }).config;
  }

  private async download(execution: JobExecution, signal: AbortSignal): Promise<DownloadResult> {
    const doc = execution.jobDocument;
    if (doc.type !== 'firmware' || !doc.manifest || !this.options.firmware) {
      throw new BatonError('InvalidRequest', 'download() needs a firmware job with a manifest and the firmware options');
    }
    let last = 0;
    return downloadFirmware(doc.manifest, {
      ...this.options.firmware,
      link: this.firmwareLink(),
      deviceId: this.client.deviceId,
      trustedKeys: this.options.trustedKeys ?? [],
      signal,
      onProgress: (p) => {
        const now = this.now();
        if (now - last < PROGRESS_EVERY_MS && p.bytes < p.size) return;
        last = now;
        const progress = { bytes: p.bytes, totalBytes: p.size, percent: Math.floor((p.bytes * 100) / p.size) };
        this.update(execution.jobId, 'IN_PROGRESS', undefined, progress).catch((err: unknown) => this.report(err));
      },
    });
  }

  private firmwareLink(): FirmwareLink {
    const { client } = this;
    return {
      onTopic: (filter, handler) => client.onTopic(filter, handler),
      publish: async (topic, payload, qos) => void (await client.mqtt.publishAsync(topic, payload, { qos })),
      onReconnect(listener) {
        client.on('connect', listener);
        return () => void client.off('connect', listener);
      },
    };
  }

  /** The device restarts to finish: remember the execution so the next connect reconciles it. */
  private async rebootFor(jobId: string, statusDetails?: StatusDetails): Promise<void> {
    this.rebooting = true;
    await this.saveState({ jobId, status: 'IN_PROGRESS' });
    await this.update(jobId, 'IN_PROGRESS', { step: 'rebooting', ...statusDetails });
    await this.options.reboot?.();
  }

  private async mirror(config: JsonObject): Promise<void> {
    await this.client.request(topics.shadow(this.client.deviceId, undefined, 'update'), { state: { reported: { config } } }).catch((err: unknown) => this.report(err));
  }

  private async update(jobId: string, status: ExecutionStatus, statusDetails?: StatusDetails, progress?: Progress): Promise<void> {
    const body = { status, ...(statusDetails ? { statusDetails } : {}), ...(progress ? { progress } : {}), ...(status === 'IN_PROGRESS' ? this.stepTimer() : {}) };
    try {
      await this.request(`${jobId}/update`, body);
    } catch (err) {
      // Canceled meanwhile: stop the handler; its outcome no longer matters.
      if (isBatonError(err) && err.code === 'TerminalState') return void (this.running?.jobId === jobId && this.running.controller.abort());
      throw err;
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private stepTimer() {
    return this.options.stepTimeoutS === undefined ? {} : { stepTimeoutS: this.options.stepTimeoutS };
  }

  private request<T = Record<string, unknown>>(op: string, payload: object, schema?: RequestOptions<T>['schema']): Promise<T> {
    return this.client.request<T>(topics.jobs(this.client.deviceId, op), payload, schema ? { schema } : {});
  }

  private async loadState(): Promise<Interrupted | undefined> {
    if (!this.options.stateFile) return undefined;
    try {
      return JSON.parse(await readFile(this.options.stateFile, 'utf8')) as Interrupted;
    } catch {
      return undefined;
    }
  }

  private async saveState(state: Interrupted | undefined): Promise<void> {
    this.interrupted = state;
    if (!this.options.stateFile) return;
    if (state) await writeFileAtomic(this.options.stateFile, JSON.stringify(state));
    else await rm(this.options.stateFile, { force: true });
  }

  private report(err: unknown): void {
    if (!this.closed) this.options.onError?.(err);
  }
}

/** Attaches the jobs loop to a connected client (the SDK exposes it as `client.jobs`). */
export function attachJobs(client: JobsClient, options: JobsOptions = {}): Jobs {
  return new Jobs(client, options);
}
