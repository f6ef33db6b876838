import { describe, expect, it } from 'vitest';
import { createJob, jobsDevice } from './helpers/jobs.js';
import { createSites, firmwareFor, rolloutEvents } from './helpers/rollouts.js';
import { startBaton } from './helpers/service.js';

const SITES = [
  { id: 'slow', uplinkBytesPerSec: 10_000 },
  { id: 'mid', uplinkBytesPerSec: 20_000 },
  { id: 'fast', uplinkBytesPerSec: 40_000 },
];
const IMAGE = 16 * 1024;

describe('staged rollouts: the dry run', () => {
  it('POST /jobs?dryRun=true forecasts waves, bytes per site and completion, creates nothing, and the real run follows its plan', async () => {
    const baton = await startBaton({ jobsTickMs: 50 });
    await createSites(baton, SITES);
    const firmwareId = await firmwareFor(baton, 'sensor', IMAGE, 1024);
    for (let i = 0; i < 30; i++) await jobsDevice(baton, `d${String(i).padStart(2, '0')}`, { deviceClass: 'sensor', site: SITES[i % 3]!.id });
    await baton.createDevice('v1', { deviceClass: 'valve', site: 'slow' });
    const body = { id: 'fw-plan', type: 'firmware', firmwareId, targets: { query: {} }, rollout: { canary: { count: 3 }, waves: { percents: [50] } } };

    const dry = await baton.api('POST', '/api/v1/jobs?dryRun=true', body);
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({
      waves: [{ index: 0, devices: 3 }, { index: 1, devices: 12 }, { index: 2, devices: 15 }],
      bytesPerSite: { slow: 10 * IMAGE, mid: 10 * IMAGE, fast: 10 * IMAGE },
      targets: 30,
      incompatible: 1,
    });
    // The lower bound is the busiest site per budget: 10 images over 8 kB/s at 'slow'.
    expect(dry.body.lowerBoundS).toBeCloseTo((10 * IMAGE) / 8000, 6);
    // Waves run one after another, each as long as its busiest site: here 'slow' in every wave, so
    // the estimate meets the bound; never below it.
    expect(dry.body.estimatedCompletionS).toBeGreaterThanOrEqual(dry.body.lowerBoundS);
    expect(dry.body.estimatedCompletionS).toBeLessThan(3 * dry.body.lowerBoundS);
    expect((await baton.api('GET', '/api/v1/jobs')).body.items).toEqual([]);
    // Validated like a creation.
    expect((await baton.api('POST', '/api/v1/jobs?dryRun=true', { ...body, rollout: { canary: { count: 0 } } })).status).toBe(400);
    expect((await baton.api('POST', '/api/v1/jobs?dryRun=true', { ...body, firmwareId: 'nope' })).status).toBe(400);
    // Settings the scheduler cannot run are refused before anything is created.
    const falling = await baton.api('POST', '/api/v1/jobs', { ...body, rollout: { waves: { percents: [50, 10] } } });
    expect(falling.status).toBe(400);
    expect(falling.body.fields).toHaveProperty(['body.rollout.waves.percents']);
    expect((await baton.api('GET', '/api/v1/jobs')).body.items).toEqual([]);

    // The real run plans the same waves (seeded by the job id).
    const events = await rolloutEvents(baton, 'fw-plan');
    expect((await baton.api('POST', '/api/v1/jobs?dryRun=false', body)).status).toBe(201);
    const released = await events.next('wave-released', (e) => e.wave === 0);
    expect(released.devices).toBe(3);
    const stored = baton.service.store.db.prepare("SELECT state_json FROM rollouts WHERE job_id = 'fw-plan'").pluck().get() as string;
    expect(JSON.parse(stored).waves.map((w: string[]) => w.length)).toEqual(dry.body.waves.map((w: { devices: number }) => w.devices));
  });

  it('forecasts jobs without firmware too: one wave, no bytes', async () => {
    const baton = await startBaton();
    await jobsDevice(baton, 'c1');
    await jobsDevice(baton, 'c2');
    const dry = await baton.api('POST', '/api/v1/jobs?dryRun=true', { type: 'config', config: { hz: 5 }, targets: { devices: ['c1', 'c2'] } });
    expect(dry.status).toBe(200);
    expect(dry.body.waves).toEqual([{ index: 0, devices: 2 }]);
    await createJob(baton, { type: 'config', config: { hz: 5 }, targets: { devices: ['c1', 'c2'] } });
  });
});
