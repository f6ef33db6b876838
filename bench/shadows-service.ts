/**
 * The shadow service alone, in this process: parse, read-modify-write in the group commit, and
 * the messages serialised, with no MQTT and no fsync (`synchronous = OFF`). Its CPU per update is
 * the share of an update's cost that broker/shadows and its store own, for a small document and a
 * 30-key one, measured apart from the broker's MQTT work and the machine's disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { JsonObject } from '../device-sdk/protocol/shadow.js';
import { defaultShadowLimits as limits, parseUpdateRequest } from '../broker/shadows/limits.js';
import { createShadowService } from '../broker/shadows/service.js';
import { openSqliteStore } from '../broker/store/sqlite/index.js';
import { createSqliteShadowRepo } from '../broker/store/sqlite/shadows.js';

const devices = 500;
const rounds = 20;

const documents: Record<string, { desired: JsonObject; reported: JsonObject }> = {
  small: { desired: { fw: '1.3.0', cfg: { rate: 5 } }, reported: { fw: '1.3.0', cfg: { rate: 5 }, net: { rssi: -60, wifi: true } } },
  '30 keys': {
    desired: Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`k${k}`, { v: k, name: `setting-${k}`, on: true }])),
    reported: Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`k${k}`, { v: k, name: `setting-${k}`, on: k % 2 === 0 }])),
  },
};

/** CPU µs per update of the shadow service, for a document of `kind`, each update a two-key report. */
export async function serviceCpuPerUpdate(root: string, kind: keyof typeof documents & string): Promise<number> {
  const dir = mkdtempSync(join(root, 'service-'));
  const store = openSqliteStore({ dataDir: dir, healthHistoryLimit: 1 });
  store.db.pragma('synchronous = OFF');
  const repo = createSqliteShadowRepo(store.db, store.writer, { historyVersions: 20 });
  const publisher = { publish: async (_topic: string, body: unknown) => void (typeof body === 'string' ? body : JSON.stringify(body)), packetWriter: () => undefined };
  const shadows = createShadowService({ repo, publisher, limits, clock: Date.now, log: pino({ level: 'silent' }) });
  const key = (i: number) => ({ deviceId: `d${i}`, shadowName: undefined });
  for (let i = 0; i < devices; i++) {
    await store.devices.create({ id: `d${i}`, secretHash: Buffer.alloc(32) }, new Date());
    await shadows.update(key(i), { state: documents[kind]! }, 'device');
  }
  const reply = async (accepted: object) => void JSON.stringify(accepted);
  const round = (r: number) => Promise.all(Array.from({ length: devices }, (_, i) => {
    const payload = Buffer.from(`{"state":{"reported":{"seq":${r * devices + i},"temp":${20 + (i % 50) / 10}}}}`);
    return shadows.update(key(i), parseUpdateRequest(payload, limits), 'device', reply);
  }));
  for (let r = 0; r < 5; r++) await round(r); // warm-up
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) await round(r);
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return (cpu.user + cpu.system) / (rounds * devices);
}

export const serviceDocumentKinds = Object.keys(documents);
