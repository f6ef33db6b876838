/**
 * A stored rollout row that does not read back (another version wrote it, or the file was
 * damaged) is parsed, not cast: the broker starts, logs which part is damaged and why, plans the
 * rollout again from the job and its executions, finishes it, and rewrites the row.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseSchedulerConfig } from '../rollouts/config.js';
import { parseState } from '../rollouts/state.js';
import { jobsClient, jobsDevice, type JobsDevice } from './helpers/jobs.js';
import { admittedCount, allExecutions, createSites, firmwareFor, storedRollout } from './helpers/rollouts.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const JOB = 'fw-damaged';

/** A logger that keeps what it writes, to see what the broker said about the row. */
function recordingLogger() {
  const lines: any[] = [];
  return { lines, logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) };
}

/** Stops the broker, runs `sql` on its SQLite file, and starts it again on that file. */
async function restartWith(baton: TestBaton, sql: string) {
  await baton.stop();
  const db = new Database(join(baton.dataDir, 'baton.db'));
  expect(db.prepare(sql).run(JOB).changes).toBe(1);
  db.close();
  const { lines, logger } = recordingLogger();
  return { baton: await startBaton({ jobsTickMs: 20 }, { dataDir: baton.dataDir, logger }), log: lines };
}

/** Every admitted execution is answered SUCCEEDED until the job completes. */
async function finish(baton: TestBaton, devices: Map<string, JobsDevice>) {
  await eventually(async () => {
    for (const e of await allExecutions(baton, JOB)) {
      if (e.admittedAt !== null && e.status === 'QUEUED') await devices.get(e.deviceId)!.request(`${JOB}/update`, { status: 'SUCCEEDED' });
    }
    return (await baton.api('GET', `/api/v1/jobs/${JOB}`)).body.status === 'COMPLETED' ? true : undefined;
  }, 15_000);
}

describe('a damaged stored rollout', () => {
  it.each([
    ['state that is not JSON', "UPDATE rollouts SET state_json = '{\"version\":1,\"phase\":' WHERE job_id = ?", 'stored rollout state not restorable'],
    ['state of another version', "UPDATE rollouts SET state_json = json_set(state_json, '$.version', 2, '$.released', 'one') WHERE job_id = ?", 'stored rollout state not restorable'],
    ['config that is not JSON', "UPDATE rollouts SET config_json = 'not json' WHERE job_id = ?", 'stored rollout config not readable'],
    ['config missing its targets', "UPDATE rollouts SET config_json = json_remove(config_json, '$.targets') WHERE job_id = ?", 'stored rollout config not readable'],
  ])('%s: logged, planned again from the job, finished, the row rewritten', async (_name, sql, message) => {
    let baton = await startBaton({ jobsTickMs: 20 });
    await createSites(baton, [{ id: 'north', uplinkBytesPerSec: 100_000_000 }]);
    const firmwareId = await firmwareFor(baton, 'sensor', 4096, 1024);
    const secrets = new Map<string, string>();
    for (let i = 0; i < 6; i++) secrets.set(`d${i}`, (await jobsDevice(baton, `d${i}`, { deviceClass: 'sensor', site: 'north' })).secret);
    await baton.api('POST', '/api/v1/jobs', { id: JOB, type: 'firmware', firmwareId, targets: { deviceClass: 'sensor' }, rollout: { canary: { count: 2 }, waves: { percents: [50] } } });
    await admittedCount(baton, JOB, 2);
    await eventually(() => storedRollout(baton, JOB));

    const restarted = await restartWith(baton, sql);
    baton = restarted.baton;
    expect((await baton.api('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const said = restarted.log.find((l) => l.msg.startsWith(message));
    expect(said).toMatchObject({ level: 50, jobId: JOB, err: { type: 'BatonError', code: 'InvalidRequest', details: { fields: expect.any(Object) } } });

    const devices = new Map<string, JobsDevice>();
    for (const [id, secret] of secrets) devices.set(id, await jobsClient(await baton.connectDevice({ id, secret }), { id, secret }));
    await finish(baton, devices);
    const row = baton.service.store.db.prepare('SELECT config_json, state_json FROM rollouts WHERE job_id = ?').get(JOB) as { config_json: string; state_json: string };
    expect(parseSchedulerConfig(JSON.parse(row.config_json)).targets).toHaveLength(6);
    expect(parseState(JSON.parse(row.state_json)).phase).toBe('completed');
  });

  it('of a finished job: the job and its executions are still shown', async () => {
    let baton = await startBaton();
    await baton.createDevice('c1');
    await baton.api('POST', '/api/v1/jobs', { id: JOB, type: 'custom', document: { op: 'x' }, targets: { devices: ['c1'] }, rollout: { canary: { count: 1 } } });
    await eventually(() => storedRollout(baton, JOB));
    expect((await baton.api('POST', `/api/v1/jobs/${JOB}/cancel`, { force: true })).status).toBe(200);
    const restarted = await restartWith(baton, "UPDATE rollouts SET config_json = 'not json' WHERE job_id = ?");
    baton = restarted.baton;
    const job = await baton.api('GET', `/api/v1/jobs/${JOB}`);
    expect([job.status, job.body.status, job.body.currentWave]).toEqual([200, 'CANCELED', null]);
    expect(restarted.log).toContainEqual(expect.objectContaining({ level: 50, jobId: JOB, msg: expect.stringMatching(/^stored rollout config not readable/) }));
    expect((await baton.api('GET', `/api/v1/jobs/${JOB}/executions`)).status).toBe(200);
  });
});
