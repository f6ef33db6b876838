/** Runs `npm start`'s entry point in a child process, for kill -9 and shutdown tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN } from './service.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildBroker {
  child: ChildProcess;
  mqttPort: number;
  httpPort: number;
  output: () => string;
  exited: Promise<number | null>;
}

export function startChildBroker(dataDir: string, env: Record<string, string> = {}): Promise<ChildBroker> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'broker/main.ts'], {
    cwd: root,
    env: { ...process.env, BATON_DATA_DIR: dataDir, BATON_HOST: '127.0.0.1', BATON_MQTT_PORT: '0', BATON_HTTP_PORT: '0', BATON_MQTTS_PORT: '0', BATON_ADMIN_TOKEN: ADMIN_TOKEN, BATON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child broker did not start:\n${out}`)), 20_000);
    child.stdout!.on('data', () => {
      const m = out.match(/MQTT on [^:]+:(\d+), HTTP \+ MQTT\/WebSocket on [^:]+:(\d+)/);
      if (!m) return;
      clearTimeout(timer);
      resolve({ child, mqttPort: Number(m[1]), httpPort: Number(m[2]), output: () => out, exited });
    });
    child.once('exit', () => reject(new Error(`child broker exited:\n${out}`)));
  });
}
