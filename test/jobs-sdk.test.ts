import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../device-sdk/index.js';
import type { JobsOptions } from '../device-sdk/jobs.js';
import { BatonError } from '../device-sdk/protocol/errors.js';
import { tempDir } from './helpers/firmware.js';
import { customJob, executions, jobStatus } from './helpers/jobs.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

async function sdkDevice(baton: TestBaton, id: string, options: JobsOptions = {}, register = true) {
  const secret = register ? (await baton.createDevice(id)).secret : (options as { secret: string }).secret;
  const client = await connect({ url: baton.mqttUrl, deviceId: id, secret, jobs: options });
  const jobs = client.jobs; // closed by client.close()
  const stop = () => client.close();
  onTestFinished(stop);
  return { client, jobs, secret, stop };
}

const statuses = async (baton: TestBaton, jobId: string) => (await executions(baton, jobId)).map((e) => [e.deviceId, e.status, e.statusDetails]);

describe('jobs in the device SDK', () => {
  it('runs queued jobs one at a time through their handlers, in order, with progress', async () => {
    const baton = await startBaton();
    const { jobs } = await sdkDevice(baton, 'dev-1', { stepTimeoutS: 30 });
    const seen: string[] = [];
    let concurrent = 0;
    jobs.handle('custom', async ({ job, progress }) => {
      concurrent++;
      expect(concurrent).toBe(1);
      seen.push(job.jobId);
      await progress({ percent: 50 });
      concurrent--;
      return { statusDetails: { did: job.document.type === 'custom' ? job.document.document['op'] ?? null : null } };
    });
    for (const id of ['job-a', 'job-b', 'job-c']) await customJob(baton, id, ['dev-1']);
    await jobStatus(baton, 'job-c', 'COMPLETED');
    expect(seen).toEqual(['job-a', 'job-b', 'job-c']);
    expect((await executions(baton, 'job-b'))[0]).toMatchObject({ status: 'SUCCEEDED', versionNumber: 4, progress: { percent: 50 }, statusDetails: { did: 'reboot' } });
  });

  it('reports FAILED with the error code, REJECTED for a refusal, and leaves types it has no handler for', async () => {
    const baton = await startBaton();
    const { jobs } = await sdkDevice(baton, 'dev-1');
    const { jobs: other } = await sdkDevice(baton, 'dev-2');
    jobs.handle('custom', async () => {
      throw new BatonError('Unavailable', 'the pump is running');
    });
    other.handle('custom', async () => {
      throw new BatonError('Incompatible', 'wrong board revision');
    });
    await customJob(baton, 'job-1', ['dev-1', 'dev-2']);
    await jobStatus(baton, 'job-1', 'COMPLETED');
    expect(await statuses(baton, 'job-1')).toEqual([
      ['dev-1', 'FAILED', { reason: 'Unavailable', message: 'the pump is running' }],
      ['dev-2', 'REJECTED', { reason: 'Incompatible', message: 'wrong board revision' }],
    ]);

    const { jobs: configOnly } = await sdkDevice(baton, 'dev-3');
    configOnly.handle('config', async () => undefined);
    await customJob(baton, 'job-2', ['dev-3']);
    await new Promise((r) => setTimeout(r, 300));
    expect(await statuses(baton, 'job-2')).toEqual([['dev-3', 'QUEUED', null]]);
  });

  it('aborts the handler when its execution is force-canceled, then goes on with the queue', async () => {
    const baton = await startBaton();
    const { jobs } = await sdkDevice(baton, 'dev-1');
    const aborted: string[] = [];
    jobs.handle('custom', async ({ job, signal }) => {
      if (job.jobId !== 'job-stuck') return;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted.push(job.jobId);
    });
    await customJob(baton, 'job-stuck', ['dev-1']);
    await eventually(async () => ((await executions(baton, 'job-stuck'))[0].status === 'IN_PROGRESS' ? true : undefined));
    await customJob(baton, 'job-next', ['dev-1']);
    await baton.api('POST', '/api/v1/jobs/job-stuck/cancel', { force: true });
    await jobStatus(baton, 'job-next', 'COMPLETED');
    expect(aborted).toEqual(['job-stuck']);
    expect((await executions(baton, 'job-stuck'))[0].status).toBe('CANCELED');
  });

  it('an execution a reboot interrupted is reconciled, then run again on the next start', async () => {
    const baton = await startBaton();
    const dir = tempDir('baton-jobs-');
    const { secret } = await baton.createDevice('dev-1');
    const options = (running: string): JobsOptions & { secret: string } =>
      ({ secret, firmwareVersion: () => running, stateFile: join(dir, 'jobs.json') });
    const before = await sdkDevice(baton, 'dev-1', options('1.0.0'), false);
    before.jobs.handle('custom', async () => ({ reboot: true }));
    await customJob(baton, 'job-1', ['dev-1']);
    await eventually(async () => ((await executions(baton, 'job-1'))[0].statusDetails?.step === 'rebooting' ? true : undefined));
    await before.stop();

    // A custom job has no version to compare: it stays IN_PROGRESS and the app finishes it after the restart.
    const after = await sdkDevice(baton, 'dev-1', options('1.0.0'), false);
    after.jobs.handle('custom', async () => ({ statusDetails: { resumed: true } }));
    await jobStatus(baton, 'job-1', 'COMPLETED');
    expect(await statuses(baton, 'job-1')).toEqual([['dev-1', 'SUCCEEDED', { resumed: true }]]);
  });
});
