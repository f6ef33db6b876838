import { readFile } from 'node:fs/promises';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink, type FirmwareLink } from '../device-sdk/firmware/link.js';
import { parseTopic } from '../device-sdk/protocol/topics.js';
import { firmwareFixture } from './helpers/firmware.js';

/** mulberry32: a seeded generator, so a failing sequence of interruptions can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Calls `onBlock` as each block arrives from the broker, before the download sees it. */
function onArrival(link: FirmwareLink, onBlock: () => void): FirmwareLink {
  return {
    ...link,
    onTopic: (filter, handler) =>
      link.onTopic(filter, (m) => {
        if (parseTopic(m.topic)?.kind === 'stream/data') onBlock();
        handler(m);
      }),
  };
}

describe('resumable firmware download', () => {
  it('survives 100 random interruptions (dropped connections and process restarts), fetching at most one block again after each', async () => {
    const seed = Number(process.env.FIRMWARE_RESUME_SEED ?? 20_250_601);
    const random = seeded(seed);
    const INTERRUPTIONS = 100;
    const { baton, image, device, manifest, options } = await firmwareFixture(200, 256, { mqtt: { reconnectPeriod: 10 } });
    const storeCounts = new Map<number, number>();
    /** Blocks stored a second time after interruption i (a restart loses at most the block in flight). */
    const storedAgain: number[] = [];
    const kinds = { drop: 0, restart: 0 };
    let client: MqttClient = device.client;
    let interruptions = 0;
    let untilNext = 1 + Math.floor(random() * 3);
    let path: string | undefined;

    while (path === undefined) {
      const run = new AbortController();
      const interrupt = () => {
        if (interruptions >= INTERRUPTIONS || --untilNext > 0) return;
        untilNext = 1 + Math.floor(random() * 3);
        storedAgain[interruptions++] = 0;
        if (random() < 0.5) {
          kinds.drop++;
          client.stream.destroy(); // the socket dies; mqtt.js reconnects and the download asks again
        } else {
          kinds.restart++;
          run.abort(new Error('simulated restart')); // a stop: what is being stored lands and is synced (SIGKILL: firmware-crash-resume.test.ts)
        }
      };
      const link = onArrival(mqttJsLink(client), interrupt);
      const onProgress = ({ block }: { block: number }) => {
        const n = (storeCounts.get(block) ?? 0) + 1;
        storeCounts.set(block, n);
        if (n > 1) storedAgain[interruptions - 1]!++;
      };
      try {
        ({ path } = await downloadFirmware(manifest, options(link, { onProgress, signal: run.signal })));
      } catch (err) {
        if (!run.signal.aborted) throw err;
        // A new process: a new connection, and a new download from the state file.
        await client.endAsync(true);
        client = await baton.connectDevice(device, { reconnectPeriod: 10 });
      }
    }

    expect({ seed, interruptions }).toEqual({ seed, interruptions: INTERRUPTIONS });
    expect(kinds.drop).toBeGreaterThan(20);
    expect(kinds.restart).toBeGreaterThan(20);
    expect(Math.max(...storedAgain)).toBeLessThanOrEqual(1);
    expect(storeCounts.size).toBe(200);
    expect(await readFile(path)).toEqual(image);
  });
});
