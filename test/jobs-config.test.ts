import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '../device-sdk/index.js';
import { attachJobs, type JobsOptions } from '../device-sdk/jobs.js';
import { isBatonError } from '../device-sdk/protocol/errors.js';
import { openConfigEnvelope } from '../device-sdk/protocol/jobs.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../firmware-updates/signing-keys.js';
import { trustedKeys } from './helpers/firmware.js';
import { createJob, executions, jobStatus, jobsDevice } from './helpers/jobs.js';
import { eventually, startBaton, type TestBaton } from './helpers/service.js';

const config = { sampleRateHz: 10, mode: 'eco', thresholds: { tempC: 80 } };
const configJob = (devices: string[], id = 'cfg-1') => ({ id, type: 'config', config, targets: { devices }, rollout: { maxPerMinute: 60_000 } });

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    if (isBatonError(err)) return err.code;
    throw err;
  }
};

/** A device on the real SDK with the jobs loop attached. */
async function sdkDevice(baton: TestBaton, id: string, options: JobsOptions) {
  const { secret } = await baton.createDevice(id);
  const client = await connect({ url: baton.mqttUrl, deviceId: id, secret });
  const jobs = attachJobs(client, options);
  onTestFinished(async () => {
    await jobs.close();
    await client.close();
  });
  return { client, jobs };
}

describe('config jobs', () => {
  it('deliver the config signed for one device, one job and a time: tampered, replayed or late → refused', async () => {
    let now = Date.parse('2026-06-01T00:00:00Z');
    const baton = await startBaton({ jobsConfigTtlS: 600 }, { clock: () => now });
    const keys = await trustedKeys(baton);
    const a = await jobsDevice(baton, 'dev-a');
    await jobsDevice(baton, 'dev-b');
    await createJob(baton, configJob(['dev-a', 'dev-b']));
    const { execution } = (await a.request('start-next')).body;
    expect(execution.jobDocument).toEqual({ type: 'config', envelope: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) });
    const envelope: string = execution.jobDocument.envelope;
    const open = (patch: Partial<Parameters<typeof openConfigEnvelope>[1]> = {}, jws = envelope) =>
      codeOf(() => openConfigEnvelope(jws, { trustedKeys: keys, deviceId: 'dev-a', jobId: 'cfg-1', now, ...patch }));

    expect(openConfigEnvelope(envelope, { trustedKeys: keys, deviceId: 'dev-a', jobId: 'cfg-1', now }).config).toEqual(config);
    expect(open({ deviceId: 'dev-b' })).toBe('Replay');
    expect(open({ jobId: 'cfg-2' })).toBe('Replay');
    expect(open({ now: now + 600_000 })).toBe('Expired');
    const [h, p, s] = envelope.split('.');
    const forged = JSON.parse(Buffer.from(p!, 'base64url').toString());
    forged.config.mode = 'turbo';
    expect(open({}, `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`)).toBe('SignatureInvalid');
    const stranger = signingKeyFromPem(generateSigningKeyPem().privateKeyPem);
    expect(open({ trustedKeys: [{ keyId: stranger.keyId, algorithm: stranger.algorithm, publicKeyPem: stranger.publicKeyPem }] })).toBe('UntrustedKey');

    // Delivered again later, it is signed again with a new expiry.
    now += 3_600_000;
    const again = (await a.request('cfg-1/get')).body.execution.jobDocument.envelope;
    expect(openConfigEnvelope(again, { trustedKeys: keys, deviceId: 'dev-a', jobId: 'cfg-1', now }).config).toEqual(config);
  });

  it('the SDK verifies, applies through the handler, reports SUCCEEDED and mirrors into reported.config', async () => {
    const baton = await startBaton();
    const applied: unknown[] = [];
    const { jobs } = await sdkDevice(baton, 'dev-1', { trustedKeys: await trustedKeys(baton) });
    jobs.handle('config', async ({ config: c, job }) => {
      applied.push([job.jobId, c]);
      return { statusDetails: { applied: true } };
    });
    await createJob(baton, configJob(['dev-1']));
    await jobStatus(baton, 'cfg-1', 'COMPLETED');
    expect(applied).toEqual([['cfg-1', config]]);
    expect((await executions(baton, 'cfg-1'))[0]).toMatchObject({ status: 'SUCCEEDED', statusDetails: { applied: true } });
    const shadow = await eventually(async () => {
      const res = await baton.api('GET', '/api/v1/devices/dev-1/shadow');
      return res.status === 200 ? res.body : undefined;
    });
    expect(shadow.state.reported).toEqual({ config });
  });

  it('the SDK refuses an envelope it cannot trust (REJECTED with the code) and never calls the handler', async () => {
    const baton = await startBaton();
    const stranger = signingKeyFromPem(generateSigningKeyPem().privateKeyPem);
    const called: string[] = [];
    const untrusting = await sdkDevice(baton, 'dev-1', { trustedKeys: [{ keyId: stranger.keyId, algorithm: stranger.algorithm, publicKeyPem: stranger.publicKeyPem }] });
    const late = await sdkDevice(baton, 'dev-2', { trustedKeys: await trustedKeys(baton), now: () => Date.now() + 2 * 3_600_000 });
    for (const { jobs } of [untrusting, late]) jobs.handle('config', async ({ job }) => void called.push(job.jobId));
    await createJob(baton, configJob(['dev-1', 'dev-2']));
    await jobStatus(baton, 'cfg-1', 'COMPLETED');
    expect((await executions(baton, 'cfg-1')).map((e) => [e.deviceId, e.status, e.statusDetails.reason])).toEqual([
      ['dev-1', 'REJECTED', 'UntrustedKey'],
      ['dev-2', 'REJECTED', 'Expired'],
    ]);
    expect(called).toEqual([]);
  });
});
