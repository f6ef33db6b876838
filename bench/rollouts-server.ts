/**
 * Baton for bench/rollouts-real.ts, in a process of its own, recording every firmware grant: the
 * block server hands bytes to a device's socket in the tick its pacing buckets granted them and
 * reports them through the rollouts' `delivered` hook, so the time of that call is the time the
 * envelope is about (arrival times at the devices trail it by the loopback and event-loop delay).
 *
 *   node --import tsx bench/rollouts-server.ts '<config JSON>'
 *
 * Messages to the parent: `{ ready, mqttPort, httpPort }`; replies to `{ cmd: 'grants' }` with
 * `{ grants: { [site]: [[ms, bytes], …] }, schedulerMs }` (times from `performance.now()` plus
 * `timeOrigin`, so the parent can compare them with its own; `schedulerMs` since the last
 * `{ cmd: 'clear' }`); `{ cmd: 'stop' }` closes and exits.
 */
import { parseConfig } from '../broker/config.js';
import { buildService } from '../broker/service.js';
import { RolloutScheduler } from '../rollouts/scheduler.js';

/**
 * Milliseconds spent inside the scheduler (every method and `create`/`restore`, outermost calls
 * only): it runs synchronously on the event loop, so this is its CPU time.
 */
let schedulerMs = 0;
function timeScheduler(): void {
  let depth = 0;
  const wrap = (target: Record<string, unknown>, name: string) => {
    const original = target[name];
    if (typeof original !== 'function' || name === 'constructor') return;
    target[name] = function (this: unknown, ...args: unknown[]) {
      if (depth++ > 0) return Reflect.apply(original, this, args);
      const t0 = performance.now();
      try {
        return Reflect.apply(original, this, args);
      } finally {
        depth--;
        schedulerMs += performance.now() - t0;
      }
    };
  };
  const proto = RolloutScheduler.prototype as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) if (!Object.getOwnPropertyDescriptor(proto, name)?.get) wrap(proto, name);
  for (const name of ['create', 'restore']) wrap(RolloutScheduler as unknown as Record<string, unknown>, name);
}

async function main(): Promise<void> {
  timeScheduler();
  const config = parseConfig(JSON.parse(process.argv[2] ?? '{}'));
  const service = await buildService(config);
  const { mqttPort, httpPort } = await service.listen();
  const { rollouts } = service;
  const sites = new Map<string, string>();
  const siteOf = (deviceId: string): string => {
    let site = sites.get(deviceId);
    if (site === undefined) {
      const row = service.store.db.prepare('SELECT site FROM devices WHERE id = ?').get(deviceId) as { site: string | null } | undefined;
      sites.set(deviceId, (site = row?.site ?? ''));
    }
    return site;
  };
  const grants: Record<string, [number, number][]> = {};
  const delivered = rollouts.delivered.bind(rollouts);
  rollouts.delivered = (deviceId, firmwareId, bytes) => {
    (grants[siteOf(deviceId)] ??= []).push([performance.timeOrigin + performance.now(), bytes]);
    delivered(deviceId, firmwareId, bytes);
  };
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'grants') process.send!({ grants, schedulerMs });
    else if (msg.cmd === 'clear') {
      for (const k of Object.keys(grants)) delete grants[k];
      schedulerMs = 0;
    }
    else if (msg.cmd === 'stop') void service.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => void service.close().then(() => process.exit(0)));
  process.send!({ ready: true, mqttPort, httpPort });
}

main().catch((err: unknown) => {
  process.stderr.write(`rollouts-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
