/**
 * The rollouts' own admin routes, mounted with the jobs routes under /api/v1:
 *
 *   GET /jobs/{id}/devices/{deviceId}   why one device has (not) updated, including devices the
 *                                       job does not run on (`not-targeted`, `incompatible`)
 *   GET /sites/{id}/windows             a site's own maintenance windows
 *   PUT /sites/{id}/windows             sets them (`{ windows: [...] }`, or `null` to clear)
 *
 * The reasons beside every execution are in `GET /jobs/{id}/executions`; the dry run is
 * `POST /jobs?dryRun=true` (broker/jobs/routes.ts).
 */
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import { executionStatusSchema } from '../../device-sdk/protocol/jobs.js';
import { windowListSchema } from '../../rollouts/settings.js';
import type { ApiPlugin } from '../http/app.js';
import { deviceIdSchema, problemSchema, siteIdSchema } from '../http/schemas.js';
import type { ExecutionRecord, JobRecord } from '../jobs/model.js';
import type { Store } from '../store/types.js';
import type { RolloutRepo } from '../store/sqlite/rollouts.js';
import { REASONS } from './reasons.js';
import type { Rollouts } from './rollouts.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };
const tags = ['rollouts'];

const whySchema = z.object({
  jobId: z.string(),
  deviceId: z.string(),
  status: executionStatusSchema.nullable().describe('The execution\'s status; null when the job has none for this device.'),
  reason: z.enum(REASONS).nullable().describe('Why the device has not updated; null when it has, runs unhindered, or its status says why.'),
  reasonDetails: z.record(z.string(), z.unknown()).nullable(),
}).meta({ id: 'RolloutDeviceReason' });

const windowsBody = z.strictObject({ windows: windowListSchema.nullable() });
const windowsSchema = z.object({ siteId: z.string(), windows: windowListSchema.nullable() }).meta({ id: 'SiteWindows' });

export interface RolloutRoutesDeps {
  rollouts: Rollouts;
  repo: RolloutRepo;
  getJob(id: string): Promise<JobRecord>;
  getExecution(key: { jobId: string; deviceId: string }): Promise<ExecutionRecord | undefined>;
  sites: Store['sites'];
  clock: () => number;
}

export function rolloutRoutes(d: RolloutRoutesDeps): ApiPlugin {
  return async (plain, { guard }) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();

    app.get('/jobs/:id/devices/:deviceId', {
      onRequest: guard('read'),
      schema: {
        tags,
        summary: 'Why a device has not updated under this job (not-targeted, incompatible, waiting-for-wave, outside-window, waiting-for-bandwidth, offline-since, deferred-by-device, aborted, notified)',
        params: z.object({ id: z.string().min(1).max(256), deviceId: deviceIdSchema }),
        response: { 200: whySchema, ...errors },
      },
    }, async (req) => {
      const job = await d.getJob(req.params.id);
      const { deviceId } = req.params;
      const execution = await d.getExecution({ jobId: job.id, deviceId });
      const why = d.rollouts.why(job, deviceId, execution, d.repo.excluded(job.id, deviceId));
      // Jobs the scheduler does not drive: the plain queued reasons.
      const reason = why === undefined
        ? (execution?.status === 'QUEUED' ? { reason: execution.admittedAt === null ? 'waiting-for-bandwidth' : 'notified', details: null } : null)
        : why;
      return { jobId: job.id, deviceId, status: execution?.status ?? null, reason: (reason?.reason ?? null) as (typeof REASONS)[number] | null, reasonDetails: reason?.details ?? null };
    });

    app.get('/sites/:id/windows', {
      onRequest: guard('read'),
      schema: { tags, summary: "A site's own maintenance windows (its devices' firmware moves only inside them)", params: z.object({ id: siteIdSchema }), response: { 200: windowsSchema, ...errors } },
    }, async (req) => {
      if (!(await d.sites.get(req.params.id))) throw new BatonError('NotFound', `site ${req.params.id} does not exist`);
      const stored = d.repo.siteWindows(req.params.id);
      if (stored === undefined) return { siteId: req.params.id, windows: null };
      // Read back, not cast: a damaged row is a clear error, not a response that breaks its schema.
      const windows = windowListSchema.safeParse(stored);
      if (!windows.success) throw new BatonError('InternalError', `the stored windows of site ${req.params.id} do not match their schema`);
      return { siteId: req.params.id, windows: windows.data };
    });

    app.put('/sites/:id/windows', {
      onRequest: guard('write'),
      schema: {
        tags,
        summary: "Sets a site's maintenance windows (cron start + duration, in the window's, else the site's, time zone); null clears them. Rollouts created afterwards use them.",
        params: z.object({ id: siteIdSchema }),
        body: windowsBody,
        response: { 200: windowsSchema, ...errors },
      },
    }, async (req) => {
      if (!(await d.sites.get(req.params.id))) throw new BatonError('NotFound', `site ${req.params.id} does not exist`);
      await d.repo.setSiteWindows(req.params.id, req.body.windows, d.clock());
      return { siteId: req.params.id, windows: req.body.windows };
    });
  };
}
