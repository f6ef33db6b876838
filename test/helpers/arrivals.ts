/**
 * Measuring paced delivery from the receiving side: when each block's bytes arrived, and the most
 * that arrived in any window. Shared by test/firmware-pacing.test.ts and bench/firmware.ts (no
 * vitest here, so the bench can import it).
 */
import type { FirmwareLink } from '../../device-sdk/firmware/link.js';
import { parseTopic } from '../../device-sdk/protocol/topics.js';

export interface Arrival {
  at: number;
  bytes: number;
}

/** The link, recording into `arrivals` when each block (and, with `kinds`, each chunk table) arrives (performance.now ms). */
export function recordArrivals(link: FirmwareLink, arrivals: Arrival[], kinds: readonly string[] = ['stream/data']): FirmwareLink {
  return {
    ...link,
    onTopic: (filter, handler) =>
      link.onTopic(filter, (m) => {
        if (kinds.includes(parseTopic(m.topic)?.kind ?? '')) arrivals.push({ at: performance.now(), bytes: m.payload.length });
        handler(m);
      }),
  };
}

/** The most bytes that arrived in any window of `windowMs` ending at an arrival. */
export function busiestWindow(arrivals: readonly Arrival[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a.at - b.at);
  let most = 0;
  let sum = 0;
  let start = 0;
  for (const a of sorted) {
    sum += a.bytes;
    while (sorted[start]!.at <= a.at - windowMs) sum -= sorted[start++]!.bytes;
    most = Math.max(most, sum);
  }
  return most;
}
