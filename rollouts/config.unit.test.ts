import { describe, expect, it } from 'vitest';
import { parseSchedulerConfig, resolveConfig, type SchedulerConfig } from './config.js';
import { defaultHealthTolerance } from './gates.js';

const base: SchedulerConfig = { jobId: 'job', sites: [{ id: 's', uplinkBytesPerSec: 100_000 }], firmwareBytes: 1000, targets: [{ id: 'd1', site: 's' }] };

describe('resolveConfig', () => {
  it('applies the defaults: every device must succeed, no soak, no health gate, 80 % of each uplink', () => {
    const c = resolveConfig(base);
    expect([c.rollout.successThresholdPct, c.rollout.soakS, c.health, c.siteShare, c.endBehavior]).toEqual([100, 0, undefined, 0.8, 'stop']);
  });

  it.each([
    ['a soak turns the health gate on', { soakS: 60 }, defaultHealthTolerance],
    ['unless it is off', { soakS: 60, healthGate: false }, undefined],
    ['on without a soak', { healthGate: true }, defaultHealthTolerance],
    ['margins of its own, the rest defaulted', { soakS: 60, healthGate: { rebootsPerDevice: 1 } }, { ...defaultHealthTolerance, rebootsPerDevice: 1 }],
  ])('%s', (_name, rollout, health) => {
    expect(resolveConfig({ ...base, rollout }).health).toEqual(health);
  });

  it('refuses what the REST API refuses, naming the field', () => {
    expect(() => resolveConfig({ ...base, rollout: { waves: { growthFactor: 1, initial: 5 } } })).toThrow(
      expect.objectContaining({ code: 'InvalidRequest', details: { fields: { 'rollout.waves.growthFactor': expect.any(String) } } }),
    );
  });
});

describe('parseSchedulerConfig (a stored config)', () => {
  it('round-trips a config through JSON', () => {
    const config = { ...base, rollout: { canary: {}, soakS: 60 }, schedule: { windows: [{ cron: '0 2 * * *', durationMin: 60 }] } };
    expect(parseSchedulerConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it.each([
    ['not an object', undefined, '(config)'],
    ['targets missing', { ...base, targets: undefined }, 'targets'],
    ['a target without an id', { ...base, targets: [{ site: 's' }] }, 'targets.0.id'],
    ['a site without an uplink', { ...base, sites: [{ id: 's' }] }, 'sites.0.uplinkBytesPerSec'],
    ['falling percents', { ...base, rollout: { waves: { percents: [50, 10] } } }, 'rollout.waves.percents'],
  ])('refuses %s, naming the field', (_name, json, field) => {
    expect(() => parseSchedulerConfig(json)).toThrow(expect.objectContaining({ code: 'InvalidRequest', details: { fields: expect.objectContaining({ [field]: expect.any(String) }) } }));
  });
});
