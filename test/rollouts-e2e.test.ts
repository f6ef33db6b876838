/**
 * End to end: a firmware rollout to 200 simulated devices (simulator/, on the real SDK) over real
 * MQTT, with a canary across three sites, growing waves, and abort criteria that stop it when a
 * share of the last wave fails to install. Images and budgets are scaled down so it runs in
 * seconds: 16 KiB images in 1 KiB blocks, sites of 2–4 MB/s.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planWaves } from '../rollouts/waves.js';
import { adminApi } from '../simulator/api.js';
import { Fleet, planFleet, provisionFleet, type FleetSpec } from '../simulator/fleet.js';
import { rolloutJob, uploadImage } from '../simulator/rollout.js';
import { reasonCounts } from '../simulator/watch.js';
import { tempDir, trustedKeys } from './helpers/firmware.js';
import { jobDetail, jobStatus } from './helpers/jobs.js';
import { allExecutions, rolloutEvents, storedRollout } from './helpers/rollouts.js';
import { ADMIN_TOKEN, eventually, startBaton } from './helpers/service.js';

const IMAGE = 16 * 1024;

describe('staged rollout end to end with the fleet simulator', () => {
  it('200 SDK devices over 3 sites: the canary passes, the waves follow, and a failing share aborts the rest', { timeout: 90_000 }, async () => {
    const baton = await startBaton({ jobsTickMs: 100, firmwareBurstBytes: 4096 });
    const api = adminApi(baton.httpUrl, ADMIN_TOKEN);
    const spec: FleetSpec = {
      devices: 200,
      prefix: 'e2e',
      tag: 'e2e',
      deviceClass: 'sim-sensor',
      sites: [{ id: 'plant-a', uplinkBytesPerSec: 4_000_000 }, { id: 'plant-b', uplinkBytesPerSec: 3_000_000 }, { id: 'plant-c', uplinkBytesPerSec: 2_000_000 }],
      linkKbps: { min: 2000, max: 8000 },
      clockSkewS: 30,
      failures: {},
      seed: 'e2e',
    };
    const planned = planFleet(spec);
    // The plan the scheduler will make (seeded by the job id): 40 devices of the last wave fail their install.
    const jobId = 'e2e-rollout';
    const waves = planWaves(planned.map((d) => ({ id: d.id, site: d.site })), { canary: { count: 3 }, waves: { percents: [30] } }, jobId);
    const failing = new Set(waves[2]!.slice(0, 40));
    for (const d of planned) if (failing.has(d.id)) d.failure = 'install-fails';

    const dir = tempDir('baton-sim-');
    const fleet = new Fleet(await provisionFleet(api, spec, planned), {
      mqttUrl: baton.mqttUrl,
      trustedKeys: await trustedKeys(baton),
      deviceClass: spec.deviceClass,
      version: '1.0.0',
      dir,
      installMs: 50,
      rebootMs: 200,
      offlineMs: 500,
      healthIntervalS: 30,
    });
    try {
      await fleet.start(50);
      const firmwareId = await uploadImage(api, { deviceClass: spec.deviceClass, version: '2.0.0', imageBytes: IMAGE, chunkBytes: 1024 });
      const events = await rolloutEvents(baton, jobId);
      const job = rolloutJob({
        jobId, deviceClass: spec.deviceClass, tag: spec.tag, version: '2.0.0', imageBytes: IMAGE, chunkBytes: 1024,
        canary: { count: 3 }, wavePercents: [30], successThresholdPct: 90, abortPct: 10, abortMinExecuted: 40, maxConcurrent: 30,
      }, firmwareId);
      expect((await baton.api('POST', '/api/v1/jobs', job)).status).toBe(201);

      // The canary: one device per site, all updated, before anything else is admitted.
      const canaryPassed = await events.next('wave-passed', (e) => e.wave === 0, 30_000);
      expect(canaryPassed.successPct).toBe(100);
      expect(new Set(waves[0]!.map((id) => planned.find((d) => d.id === id)!.site))).toEqual(new Set(['plant-a', 'plant-b', 'plant-c']));
      await events.next('wave-passed', (e) => e.wave === 1, 30_000);
      const stopped = await events.next('stopped', undefined, 45_000);
      expect(stopped).toMatchObject({ phase: 'aborted', cause: { kind: 'abort-criterion' } });
      await jobStatus(baton, jobId, 'ABORTED');
      await eventually(async () => ((await jobDetail(baton, jobId)).counts.IN_PROGRESS === 0 ? true : undefined), 20_000);

      const executions = await allExecutions(baton, jobId);
      const status = (id: string) => executions.find((e) => e.deviceId === id)!.status;
      expect([...waves[0]!, ...waves[1]!].every((id) => status(id) === 'SUCCEEDED')).toBe(true);
      // Nobody admitted after the crossing, by the admin API's timestamps and the scheduler's own.
      const stopAt = Date.parse(stopped.at);
      const admitted = executions.filter((e) => e.admittedAt !== null);
      expect(admitted.filter((e) => Date.parse(e.admittedAt) > stopAt)).toEqual([]);
      expect(storedRollout(baton, jobId)!.state.stop.at).toBe(stopAt);
      const counts = (await jobDetail(baton, jobId)).counts;
      expect(counts.FAILED).toBeGreaterThan(0);
      expect(counts.CANCELED).toBeGreaterThan(0);
      expect(counts.SUCCEEDED + counts.FAILED + counts.CANCELED).toBe(200);
      expect(await reasonCounts(api, jobId)).toMatchObject({ aborted: counts.CANCELED, FAILED: counts.FAILED });
      // Devices that updated got the whole image over their own connections, verified by the SDK.
      const updated = fleet.devices.filter((d) => d.state === 'updated');
      expect(updated.length).toBe(counts.SUCCEEDED);
      expect(updated.every((d) => d.running === '2.0.0' && d.bytes >= IMAGE)).toBe(true);
      const perSite = [...fleet.meter.total.values()];
      expect(perSite).toHaveLength(3);
    } finally {
      await fleet.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
