import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { downloadFirmware } from '../device-sdk/firmware/download.js';
import { mqttJsLink } from '../device-sdk/firmware/link.js';
import { firmwareFixture } from './helpers/firmware.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const BLOCKS = 200;
const CHUNK = 1024;

/** Runs the SDK download in a child process and kills it with SIGKILL once `killAfter` blocks are stored; returns those. */
function downloadUntilKilled(env: object, killAfter: number): Promise<number[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/firmware-download-child.ts'], {
    cwd: root,
    env: { ...process.env, BATON_TEST_DOWNLOAD: JSON.stringify(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stored: number[] = [];
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) if (line.startsWith('stored ')) stored.push(Number(line.slice(7)));
      if (stored.length >= killAfter) child.kill('SIGKILL');
    });
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(stored);
      else reject(new Error(`the device process ended on its own (${code}) after ${stored.length} blocks:\n${err}`));
    });
  });
}

describe('firmware download after the device process is killed', () => {
  it('resumes from the bitmap file: no stored block is fetched again, except those whose bytes are not in the slot', async () => {
    // Paced to ~100 blocks a second, so the kill lands mid-download.
    const { baton, image, firmware, device, manifest, options } = await firmwareFixture(BLOCKS, CHUNK, { config: { firmwareDeviceBytesPerSec: 100 * CHUNK } });
    await device.client.endAsync(); // the child process is this device now
    const { link: _theChildConnectsItsOwn, ...childOptions } = options(mqttJsLink(device.client));
    const before = await downloadUntilKilled({ mqttUrl: baton.mqttUrl, secret: device.secret, manifest, options: childOptions }, 50);
    expect(before.length).toBeGreaterThanOrEqual(50);
    expect(before.length).toBeLessThan(BLOCKS);

    // A power cut's worst case on top: two blocks' bits reached storage but their bytes did not.
    const [lost1, lost2] = [before[10]!, before[30]!];
    const slot = await open(join(childOptions.dir, `${firmware.id}.bin`), 'r+');
    await slot.write(Buffer.alloc(CHUNK), 0, CHUNK, lost1 * CHUNK);
    await slot.write(Buffer.alloc(CHUNK / 2), 0, CHUNK / 2, lost2 * CHUNK + CHUNK / 2);
    await slot.close();

    const after: number[] = [];
    const resumed = { ...childOptions, link: mqttJsLink(await baton.connectDevice(device)), onProgress: ({ block }: { block: number }) => after.push(block) };
    const { path } = await downloadFirmware(manifest, resumed);
    expect(await readFile(path)).toEqual(image);
    expect(after.filter((b) => before.includes(b)).sort((a, b) => a - b)).toEqual([lost1, lost2].sort((a, b) => a - b));
    expect(new Set([...before, ...after]).size).toBe(BLOCKS);
  });
});
