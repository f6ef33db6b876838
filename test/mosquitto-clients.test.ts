import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startBaton, ADMIN_TOKEN } from './helpers/service.js';

const run = promisify(execFile);

/** Debian's mosquitto-clients drive the broker, so a non-JS MQTT stack is covered (.ci/run installs them). */
describe('with mosquitto_pub and mosquitto_sub', () => {
  it('publishes telemetry with mosquitto_pub and reads it as an integration with mosquitto_sub', async () => {
    const baton = await startBaton();
    const device = await baton.createDevice('pump-7');
    const port = String(baton.mqttPort);

    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-i', 'grafana', '-u', 'api', '-P', ADMIN_TOKEN, '-t', 'devices/+/telemetry/#', '-v', '-C', '1', '-W', '10']);
    let out = '';
    sub.stdout.on('data', (d) => (out += d));
    const subExited = new Promise<number | null>((resolve) => sub.once('exit', resolve));
    // Publish until mosquitto_sub (which may still be subscribing) has received one message.
    let exited = false;
    void subExited.then(() => (exited = true));
    let published = 0;
    while (!exited && published < 50) {
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-i', 'pump-7', '-u', 'pump-7', '-P', device.secret, '-q', '1', '-t', 'devices/pump-7/telemetry/flow', '-m', '{"litres":12.5}']);
      published += 1;
    }
    expect(await subExited).toBe(0);
    expect(out.trim()).toBe('devices/pump-7/telemetry/flow {"litres":12.5}');
    const rows = await baton.api('GET', '/api/v1/devices/pump-7/telemetry');
    expect(rows.body.items).toHaveLength(published);
    expect(rows.body.items[0]).toMatchObject({ stream: 'flow', data: { litres: 12.5 } });
  });

  it('refuses mosquitto_pub with a wrong secret', async () => {
    const baton = await startBaton();
    await baton.createDevice('pump-7');
    const result = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(baton.mqttPort), '-i', 'pump-7', '-u', 'pump-7', '-P', 'wrong', '-t', 'devices/pump-7/telemetry', '-m', '{}']).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/bad user name or password/i);
  });
});
