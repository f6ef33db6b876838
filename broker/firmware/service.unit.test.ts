import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { codeOf, makeImage, useTempDir } from '../../device-sdk/firmware/test-fixtures.js';
import { createArtifactStore } from '../../firmware-updates/artifact-store.js';
import { openServerSigningKey } from '../../firmware-updates/signing-keys.js';
import { migrate } from '../store/sqlite/migrate.js';
import { createSqliteFirmwareKeyRepo, createSqliteFirmwareRepo } from '../store/sqlite/firmware.js';
import { defaultFirmwareHooks } from './hooks.js';
import { createKeyService } from './keys.js';
import { createServedImages } from './served.js';
import { createFirmwareService } from './service.js';

describe('firmware service hooks', () => {
  const dir = useTempDir();

  async function service(inUse: boolean) {
    const db = new Database(':memory:');
    migrate(db);
    const repo = createSqliteFirmwareRepo(db);
    const artifacts = createArtifactStore({ dataDir: dir() });
    const keys = await createKeyService({ repo: createSqliteFirmwareKeyRepo(db), firmware: repo, serverKey: await openServerSigningKey(dir()), envelopeTtlMs: 3_600_000, clock: Date.now });
    const hooks = { ...defaultFirmwareHooks, firmwareInUse: async () => inUse };
    return createFirmwareService({ repo, keys, artifacts, served: createServedImages({ repo, artifacts }), hooks, clock: Date.now });
  }

  it('refuses to delete a firmware a job uses (InUse), and deletes it otherwise', async () => {
    for (const [inUse, code] of [[true, 'InUse'], [false, 'none']] as const) {
      const firmware = await service(inUse);
      const { firmware: f } = await firmware.upload(Readable.from([makeImage(1000)]), { deviceClass: 'c', version: '1' });
      expect(await codeOf(() => firmware.delete(f.id))).toBe(code);
      expect(await codeOf(() => firmware.get(f.id))).toBe(inUse ? 'none' : 'NotFound');
      // Deleted: the image and its chunk table are gone; refused: both stay.
      expect((await readdir(join(dir(), 'firmware'))).filter((n) => n.startsWith(f.sha256)).length).toBe(inUse ? 2 : 0);
    }
  });
});
