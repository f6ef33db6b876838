/**
 * One schema per contract: the rollout settings the REST API validates and documents are the
 * scheduler's own (rollouts/settings.ts). Fails when a second copy of a shape appears anywhere in
 * the OpenAPI document, when a component is generated from another object than the scheduler's,
 * or when the API and the scheduler disagree on a body.
 */
import { jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resolveConfig } from '../rollouts/config.js';
import { abortSchema, healthGateSchema, rolloutSchema, scheduleSchema, windowSchema } from '../rollouts/settings.js';
import { startBaton, type TestBaton } from './helpers/service.js';

/** Each shape's component name (`<id>Input` for request bodies, `<id>` for responses) and its schema. */
const SHAPES: [string, z.ZodType][] = [
  ['RolloutSettings', rolloutSchema],
  ['AbortSettings', abortSchema],
  ['ScheduleSettings', scheduleSchema],
  ['MaintenanceWindow', windowSchema],
  ['HealthGate', healthGateSchema],
];
const ref = (id: string) => `#/components/schemas/${id}`;
/** The component a property refers to (the OpenAPI 3.0 output wraps a `$ref` with siblings in `allOf`). */
const refOf = (schema: any): string | undefined => schema.$ref ?? (schema.allOf?.length === 1 ? schema.allOf[0].$ref : undefined);

/** Every object schema in `node` with its JSON path, skipping the subtrees at `skip`. */
function objectSchemas(node: unknown, path: string, skip: Set<string>, out: [string, string[]][] = []): [string, string[]][] {
  if (skip.has(path) || node === null || typeof node !== 'object') return out;
  const props = (node as { properties?: unknown }).properties;
  if (props && typeof props === 'object' && !Array.isArray(props)) out.push([path, Object.keys(props).sort()]);
  for (const [k, v] of Object.entries(node)) objectSchemas(v, `${path}/${k}`, skip, out);
  return out;
}

async function openapi(baton: TestBaton): Promise<any> {
  const res = await baton.api('GET', '/openapi.json');
  expect(res.status).toBe(200);
  return res.body;
}

describe('rollout settings: one schema for the API, its OpenAPI document and the scheduler', () => {
  it("documents the scheduler's schemas as components, and every route refers to them", async () => {
    const spec = await openapi(await startBaton());
    const components = spec.components.schemas;
    // The component of each name is made from the scheduler's object, by the app's own zod → JSON Schema path.
    const expected = jsonSchemaTransformObject({ openapiObject: { openapi: spec.openapi, info: spec.info } } as never) as { components: { schemas: Record<string, unknown> } };
    for (const [id, schema] of SHAPES) {
      expect(z.globalRegistry._idmap.get(id), id).toBe(schema);
      for (const name of [id, `${id}Input`]) expect(components[name], name).toEqual(expected.components.schemas[name]);
    }

    const body = spec.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema.properties;
    expect([body.rollout, body.abort, body.schedule].map(refOf)).toEqual([ref('RolloutSettingsInput'), ref('AbortSettingsInput'), ref('ScheduleSettingsInput')]);
    expect(refOf(components.RolloutSettingsInput.properties.healthGate)).toEqual(ref('HealthGateInput'));
    expect(refOf(components.ScheduleSettingsInput.properties.windows.items)).toEqual(ref('MaintenanceWindowInput'));
    const put = spec.paths['/api/v1/sites/{id}/windows'].put;
    expect(refOf(put.requestBody.content['application/json'].schema.properties.windows.items)).toEqual(ref('MaintenanceWindowInput'));
    expect(refOf(components.SiteWindows.properties.windows.items)).toEqual(ref('MaintenanceWindow'));

    // No copy anywhere else: no other object in the document has the fields of one of the shapes.
    const own = SHAPES.flatMap(([id]) => [`/components/schemas/${id}`, `/components/schemas/${id}Input`]);
    const shapes = new Map(objectSchemas(components, '/components/schemas', new Set()).filter(([p]) => own.includes(p)).map(([p, keys]) => [keys.join(','), p]));
    const copies = objectSchemas(spec, '', new Set(own)).filter(([, keys]) => shapes.has(keys.join(',')));
    expect(copies.map(([path, keys]) => `${path} copies ${shapes.get(keys.join(','))}`)).toEqual([]);
  });

  // The rules that had drifted between the two copies, and their neighbours: the API answers a
  // problem naming the field, and the scheduler refuses the same settings naming the same field.
  const canary = { canary: { count: 1 } };
  const criterion = { failureType: 'FAILED', thresholdPercentage: 10, minExecuted: 5 };
  const window = { cron: '0 2 * * *', durationMin: 60 };
  it.each<[string, object, string | null]>([
    ['growth factor above 1', { rollout: { ...canary, waves: { growthFactor: 1.5, initial: 1 } } }, null],
    ['growth factor 1 (no growth)', { rollout: { waves: { growthFactor: 1, initial: 1 } } }, 'rollout.waves.growthFactor'],
    ['growth factor above 100', { rollout: { waves: { growthFactor: 101, initial: 1 } } }, 'rollout.waves.growthFactor'],
    ['rising percents', { rollout: { waves: { percents: [10, 50] } } }, null],
    ['falling percents', { rollout: { waves: { percents: [50, 10] } } }, 'rollout.waves.percents'],
    ['waves without percents', { rollout: { waves: {} } }, 'rollout.waves'],
    ['health gate margins', { rollout: { ...canary, soakS: 60, healthGate: { rebootsPerDevice: 0.5 } } }, null],
    ['a health gate margin it does not know', { rollout: { healthGate: { crashes: 1 } } }, 'rollout.healthGate'],
    ['maxPerMinute above 1,000,000', { rollout: { ...canary, maxPerMinute: 1_000_001 } }, 'rollout.maxPerMinute'],
    ['16 abort criteria', { abort: { criteria: Array.from({ length: 16 }, () => criterion) } }, null],
    ['17 abort criteria', { abort: { criteria: Array.from({ length: 17 }, () => criterion) } }, 'abort.criteria'],
    ['a window', { schedule: { windows: [window] } }, null],
    ['an empty window list', { schedule: { windows: [] } }, 'schedule.windows'],
    ['a window in an unknown zone', { schedule: { windows: [{ ...window, timeZone: 'Mars/Olympus' }] } }, 'schedule.windows.0.timeZone'],
    ['a window with a bad cron', { schedule: { windows: [{ ...window, cron: 'nightly' }] } }, 'schedule.windows.0.cron'],
    ['an end before the start', { schedule: { startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' } }, 'schedule.endAt'],
  ])('%s: the API and the scheduler agree', async (_name, settings, field) => {
    const baton = await startBaton();
    await baton.createDevice('d1');
    const res = await baton.api('POST', '/api/v1/jobs?dryRun=true', { type: 'custom', document: { op: 'x' }, targets: { devices: ['d1'] }, ...settings });
    const scheduler = () => resolveConfig({ jobId: 'j', targets: [{ id: 'd1', site: null }], sites: [], firmwareBytes: 1, ...settings } as never);
    if (field === null) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(scheduler).not.toThrow();
      return;
    }
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'InvalidRequest', status: 400, type: 'https://baton.dev/problems/InvalidRequest' });
    expect(Object.keys(res.body.fields)).toContain(`body.${field}`);
    expect(scheduler).toThrow(expect.objectContaining({ code: 'InvalidRequest', details: { fields: expect.objectContaining({ [field]: expect.any(String) }) } }));
  });

  it('a site zone is checked like a window zone', async () => {
    const baton = await startBaton();
    const bad = await baton.api('POST', '/api/v1/sites', { id: 'plant', uplinkBytesPerSec: 1000, timeZone: 'Mars/Olympus' });
    expect([bad.status, bad.body.code, Object.keys(bad.body.fields)]).toEqual([400, 'InvalidRequest', ['body.timeZone']]);
    expect((await baton.api('POST', '/api/v1/sites', { id: 'plant', uplinkBytesPerSec: 1000, timeZone: 'Asia/Tokyo' })).status).toBe(201);
    const empty = await baton.api('PUT', '/api/v1/sites/plant/windows', { windows: [] });
    expect([empty.status, Object.keys(empty.body.fields)]).toEqual([400, ['body.windows']]);
  });
});
