/**
 * Baton for bench/rollouts-real.ts, in a process of its own, recording every firmware grant: the
 * block server hands bytes to a device's socket in the tick its pacing buckets granted them and
 * reports them through the rollouts' `delivered` hook, so the time of that call is the time the
 * envelope is about (arrival times at the devices trail it by the loopback and event-loop delay).
 *
 *   node --import tsx bench/rollouts-server.ts '<config JSON>'
 *
 * Messages to the parent: `{ ready, mqttPort, httpPort }`; replies to `{ cmd: 'grants' }` with
 * `{ grants: { [site]: [[ms, bytes], …] } }` (times from `performance.now()` plus `timeOrigin`,
 * so the parent can compare them with its own); `{ cmd: 'stop' }` closes and exits.
 */
import { parseConfig } from '../broker/config.js';
import { buildService } from '../broker/service.js';

async function main(): Promise<void> {
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
    if (msg.cmd === 'grants') process.send!({ grants });
    else if (msg.cmd === 'clear') for (const k of Object.keys(grants)) delete grants[k];
    else if (msg.cmd === 'stop') void service.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => void service.close().then(() => process.exit(0)));
  process.send!({ ready: true, mqttPort, httpPort });
}

main().catch((err: unknown) => {
  process.stderr.write(`rollouts-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
