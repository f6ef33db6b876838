/**
 * Step 5a of a download: fetch the chunk table and check it against the signed manifest before
 * any block is trusted with it. Asked for again after silence or a reconnect, and after a table
 * that fails its digest (up to `maxDigestRetries`, then `ChunkTableMismatch`).
 */
import { BatonError, isBatonError } from '../protocol/errors.js';
import { verifyChunkTable } from './block-verifier.js';
import type { FetchTiming } from './fetch-timing.js';
import type { FirmwareManifest } from './manifest.js';
import { rejectionError, type StreamSession } from './stream-session.js';

export function fetchChunkTable(session: Pick<StreamSession, 'handlers' | 'requestChunkTable'>, manifest: FirmwareManifest, timing: FetchTiming, signal?: AbortSignal): Promise<Buffer> {
  const { clock } = timing;
  return new Promise<Buffer>((resolve, reject) => {
    let attempts = 0;
    let mismatches = 0;
    let timer: unknown;
    const onAbort = () => settle(signal?.reason ?? new Error('aborted'));

    function settle(err: unknown, table?: Buffer): void {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      session.handlers = { ...session.handlers, chunkTable() {}, rejected() {}, reconnected() {} };
      if (table) resolve(table);
      else reject(err);
    }

    function ask(delayMs = 0): void {
      clock.clearTimeout(timer);
      if (delayMs > 0) {
        timer = clock.setTimeout(() => ask(), delayMs);
        return;
      }
      if (++attempts > timing.maxStalls + 1) return settle(new BatonError('Unavailable', 'The broker did not send the chunk table.'));
      session.requestChunkTable(`table-${attempts}`);
      timer = clock.setTimeout(() => ask(), timing.stallTimeoutMs);
    }

    session.handlers = {
      data() {}, // blocks asked for by an earlier run: asked for again once the table is verified
      chunkTable(payload) {
        try {
          verifyChunkTable(payload, manifest);
          settle(undefined, payload);
        } catch (err) {
          if (!isBatonError(err) || ++mismatches > timing.maxDigestRetries) settle(err);
          else ask();
        }
      },
      rejected(r) {
        if (r.code === 'RateLimited') ask(timing.rateLimitedBackoffMs);
        else settle(rejectionError(r));
      },
      reconnected: () => ask(),
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    ask();
  });
}
