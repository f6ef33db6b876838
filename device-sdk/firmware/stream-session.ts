/**
 * One firmware stream on a device's link: the subscription to `devices/{id}/streams/{firmwareId}/#`,
 * the requests, and the dispatch of what the broker sends back to whichever phase of the
 * download is running (chunk table, then blocks). Topics are built and parsed by the protocol
 * module only.
 */
import { BatonError, errorCodes, type ErrorCode } from '../protocol/errors.js';
import { parseTopic, topics } from '../protocol/topics.js';
import type { FirmwareLink, LinkMessage } from './link.js';
import type { BlockRun } from './stream-request.js';

/** The body of `…/rejected`. */
export interface StreamRejection {
  code: string;
  message: string;
  clientToken?: string;
}

export interface StreamHandlers {
  data(index: number, payload: Buffer): void;
  chunkTable(payload: Buffer): void;
  rejected(rejection: StreamRejection): void;
  reconnected(): void;
}

const ignore: StreamHandlers = { data() {}, chunkTable() {}, rejected() {}, reconnected() {} };

/** A rejection as the error it stands for; an unknown code (a newer broker) stays visible in the message. */
export function rejectionError(r: StreamRejection): BatonError {
  const code = (errorCodes as readonly string[]).includes(r.code) ? (r.code as ErrorCode) : 'InternalError';
  return new BatonError(code, `The broker refused the stream request: ${r.code}: ${r.message}`);
}

function parseRejection(payload: Buffer): StreamRejection {
  try {
    const body = JSON.parse(payload.toString('utf8')) as Partial<StreamRejection>;
    if (typeof body.code === 'string') {
      return { code: body.code, message: String(body.message ?? ''), ...(typeof body.clientToken === 'string' ? { clientToken: body.clientToken } : {}) };
    }
  } catch {
    // fall through: a rejection we cannot read is still a rejection
  }
  return { code: 'InternalError', message: 'unreadable rejection' };
}

export class StreamSession {
  /** The running phase; messages meant for none (e.g. blocks before the chunk table) are dropped. */
  handlers: StreamHandlers = ignore;

  private constructor(
    private readonly link: FirmwareLink,
    private readonly deviceId: string,
    private readonly firmwareId: string,
    private unsubscribe: () => Promise<void> = async () => undefined,
    private stopReconnects: () => void = () => undefined,
  ) {}

  static async open(link: FirmwareLink, deviceId: string, firmwareId: string): Promise<StreamSession> {
    const session = new StreamSession(link, deviceId, firmwareId);
    session.unsubscribe = await link.onTopic(topics.streams(deviceId, firmwareId), (m) => session.dispatch(m));
    session.stopReconnects = link.onReconnect?.(() => session.handlers.reconnected()) ?? (() => undefined);
    return session;
  }

  requestBlocks(clientToken: string, blocks: BlockRun[]): void {
    this.send(topics.streamGet(this.deviceId, this.firmwareId), { clientToken, blocks });
  }

  requestChunkTable(clientToken: string): void {
    this.send(topics.chunkTableGet(this.deviceId, this.firmwareId), { clientToken });
  }

  async close(): Promise<void> {
    this.handlers = ignore;
    this.stopReconnects();
    await this.unsubscribe();
  }

  /** A lost request is recovered by the phase's stall timeout, so a failed publish is not an error here. */
  private send(topic: string, body: object): void {
    this.link.publish(topic, JSON.stringify(body), 1).catch(() => undefined);
  }

  private dispatch({ topic, payload }: LinkMessage): void {
    const parsed = parseTopic(topic);
    if (parsed?.params.deviceId !== this.deviceId || parsed.params.firmwareId !== this.firmwareId) return;
    if (parsed.kind === 'stream/data') this.handlers.data(Number(parsed.params.blockIndex), payload);
    else if (parsed.kind === 'stream/chunk-table') this.handlers.chunkTable(payload);
    else if (parsed.kind === 'stream/rejected') this.handlers.rejected(parseRejection(payload));
  }
}
