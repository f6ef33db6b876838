import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startChildBroker, type ChildBroker } from './helpers/child-broker.js';
import { ADMIN_TOKEN, eventually } from './helpers/service.js';

const fixture = fileURLToPath(new URL('./fixtures/reject-on-signal.mjs', import.meta.url));
let running: ChildBroker | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGTERM');
    await running.exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  running = undefined;
});

const metric = async (httpPort: number, name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('process entry point (broker/main.ts)', () => {
  it('logs and counts an unhandled rejection and keeps serving', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'baton-policy-'));
    const nodeOptions = [process.env.NODE_OPTIONS, `--import=${fixture}`].filter(Boolean).join(' ');
    running = await startChildBroker(dataDir, { NODE_OPTIONS: nodeOptions });
    expect(await metric(running.httpPort, 'baton_unhandled_rejections_total')).toBe(0);

    const counted = (n: number) => eventually(async () => ((await metric(running!.httpPort, 'baton_unhandled_rejections_total')) === n ? true : undefined));
    // One signal at a time: two pending SIGUSR2s would be delivered as one.
    running.child.kill('SIGUSR2');
    expect(await counted(1)).toBe(true);
    running.child.kill('SIGUSR2');
    expect(await counted(2)).toBe(true);
    expect(running.output()).toContain('unhandled promise rejection; still serving');
    expect(running.output()).toContain('fire-and-forget work failed (test)');

    // Still serving: HTTP and MQTT.
    expect((await fetch(`http://127.0.0.1:${running.httpPort}/healthz`)).status).toBe(200);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.mqttPort}`, { clientId: 'w', username: 'api', password: ADMIN_TOKEN, reconnectPeriod: 0 });
    await client.endAsync();
    expect(running.child.exitCode).toBeNull();
  }, 30_000);
});
