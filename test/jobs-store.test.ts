/**
 * The SQLite JobRepo on a real database file: atomic read-modify-write around the pure core,
 * the queue order and indexes the service relies on, and what a reopened database still holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cancel, deviceUpdate, startNext } from '../broker/jobs/executions.js';
import type { JobRecord } from '../broker/jobs/model.js';
import type { JobRepo } from '../broker/jobs/repo.js';
import { applyJobAction } from '../broker/jobs/rollup.js';
import { job as jobFixture, T0 } from '../broker/jobs/test-fixtures.js';
import { createSqliteJobRepo } from '../broker/store/sqlite/jobs.js';
import { openSqliteStore, type SqliteStore } from '../broker/store/sqlite/index.js';

let dir: string;
let store: SqliteStore;
let repo: JobRepo;
const open = () => {
  store = openSqliteStore({ dataDir: dir, healthHistoryLimit: 10 });
  repo = createSqliteJobRepo(store.db, store.writer);
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-jobs-store-'));
  open();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const newJob = (id: string, patch: Partial<JobRecord> = {}) => {
  const { seq: _seq, ...rest } = jobFixture({ id, ...patch });
  return rest;
};

describe('SQLite job repo', () => {
  it('stores a job with waiting executions and exclusions; admits in queue order', async () => {
    const job = await repo.create(newJob('job-1'), ['d1', 'd2', 'd3'], [{ deviceId: 'v1', reason: 'incompatible', deviceClass: 'valve' }]);
    expect(job.seq).toBeGreaterThan(0);
    expect(await repo.getJob('job-1')).toEqual(job);
    expect((await repo.counts('job-1')).waiting).toBe(3);
    expect((await repo.waiting('job-1', 2)).map((e) => e.deviceId)).toEqual(['d1', 'd2']);
    expect((await repo.admit('job-1', ['d2', 'd1', 'nope'], T0)).map((e) => [e.deviceId, e.admittedAt])).toEqual([['d2', T0], ['d1', T0]]);
    expect(await repo.admit('job-1', ['d1'], T0 + 1)).toEqual([]);
    expect((await repo.pending('d1')).map((e) => e.jobId)).toEqual(['job-1']);
    expect(await repo.pending('d3')).toEqual([]);
    expect(await repo.knownDevices('job-1')).toEqual(new Set(['d1', 'd2', 'd3', 'v1']));
    expect(await repo.exclusions('job-1', 10)).toEqual({ total: 1, items: [{ deviceId: 'v1', reason: 'incompatible', deviceClass: 'valve' }] });
    await expect(repo.create(newJob('job-1'), [], [])).rejects.toMatchObject({ code: 'Conflict' });
  });

  it('runs changes atomically, in order, and writes nothing when the core refuses', async () => {
    await repo.create(newJob('job-1'), ['d1'], []);
    await repo.create(newJob('job-2'), ['d1'], []);
    await repo.admit('job-1', ['d1'], T0);
    await repo.admit('job-2', ['d1'], T0);
    // Two start-nexts in the same turn: the second sees the first's write and gets the same execution.
    const [a, b] = await Promise.all([
      repo.changeExecution('d1', 'next', (v) => startNext(v, {}, T0 + 1)),
      repo.changeExecution('d1', 'next', (v) => startNext(v, {}, T0 + 2)),
    ]);
    expect([a.execution?.jobId, a.steps.length, b.execution?.jobId, b.steps.length]).toEqual(['job-1', 1, 'job-1', 0]);
    await expect(repo.changeExecution('d1', { jobId: 'job-2' }, (v) => ({ steps: deviceUpdate(v, { status: 'IN_PROGRESS' }, T0) })))
      .rejects.toMatchObject({ code: 'InvalidStateTransition' });
    expect((await repo.getExecution({ jobId: 'job-2', deviceId: 'd1' }))?.versionNumber).toBe(1);
    expect((await repo.pending('d1')).map((e) => [e.jobId, e.status])).toEqual([['job-1', 'IN_PROGRESS'], ['job-2', 'QUEUED']]);
  });

  it('changes a job and its executions together, and finds expired and orphaned executions', async () => {
    await store.devices.create({ id: 'd1', secretHash: Buffer.alloc(32) }, new Date(T0));
    await repo.create(newJob('job-1', { timeouts: { inProgressS: 10 } }), ['d1', 'gone'], []);
    await repo.admit('job-1', ['d1', 'gone'], T0);
    await repo.changeExecution('d1', 'next', (v) => startNext(v, { stepTimeoutS: 5 }, T0));
    expect(await repo.expired(T0 + 4_999, 10)).toEqual([]);
    expect(await repo.expired(T0 + 5_000, 10)).toEqual([{ jobId: 'job-1', deviceId: 'd1' }]);
    expect(await repo.orphaned(10)).toEqual([{ jobId: 'job-1', deviceId: 'gone' }]);

    const change = await repo.changeJob('job-1', (j, pending) => applyJobAction(j, 'cancel', pending, T0 + 1, 'why'), {
      statuses: ['QUEUED'], each: (e) => cancel(e, false, T0 + 1),
    });
    expect([change.before.status, change.job.status, change.executions.map((s) => s.at(-1)?.deviceId)]).toEqual(['IN_PROGRESS', 'CANCELED', ['gone']]);
    expect(await repo.activeJobs()).toEqual([]);
    expect(await repo.counts('job-1')).toMatchObject({ IN_PROGRESS: 1, CANCELED: 1, QUEUED: 0 });

    await store.close();
    open();
    expect(await repo.getJob('job-1')).toEqual(change.job);
    expect((await repo.getExecution({ jobId: 'job-1', deviceId: 'd1' }))).toMatchObject({ status: 'IN_PROGRESS', stepDeadline: T0 + 5_000, inProgressDeadline: T0 + 10_000 });
  });
});
