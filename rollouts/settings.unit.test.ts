import { describe, expect, it } from 'vitest';
import { abortSchema, rolloutSchema, scheduleSchema, siteSettingsSchema, windowSchema, withRolloutDefaults } from './settings.js';

type Case = [name: string, input: unknown, valid: boolean];

describe('rolloutSchema', () => {
  it.each<Case>([
    ['empty: one wave, defaults', {}, true],
    ['canary by count', { canary: { count: 5 } }, true],
    ['canary by percent', { canary: { percent: 2.5 } }, true],
    ['canary with neither (one per site)', { canary: {} }, true],
    ['explicit percents', { waves: { percents: [10, 50, 100] } }, true],
    ['waves without percents', { waves: {} }, false],
    ['101 percents (at most 100 waves)', { waves: { percents: Array.from({ length: 101 }, (_, i) => (i + 1) * 0.99) } }, false],
    ['exponential waves', { waves: { growthFactor: 2, initial: 10 } }, true],
    ['all fields', { canary: { count: 1 }, waves: { growthFactor: 1.5, initial: 1 }, successThresholdPct: 95, soakS: 600, maxConcurrent: 50, maxPerMinute: 100 }, true],
    ['percents must rise', { waves: { percents: [50, 10] } }, false],
    ['percents above 100', { waves: { percents: [120] } }, false],
    ['percents and growth mixed', { waves: { percents: [10], growthFactor: 2, initial: 1 } }, false],
    ['growth without initial', { waves: { growthFactor: 2 } }, false],
    ['growth factor below 1', { waves: { growthFactor: 0.5, initial: 1 } }, false],
    ['growth factor 1 (no growth: use percents)', { waves: { growthFactor: 1, initial: 10 } }, false],
    ['growth factor 100', { waves: { growthFactor: 100, initial: 1 } }, true],
    ['growth factor above 100', { waves: { growthFactor: 101, initial: 1 } }, false],
    ['canary count 0', { canary: { count: 0 } }, false],
    ['unknown field', { canaryCount: 1 }, false],
    ['threshold above 100', { successThresholdPct: 101 }, false],
    ['negative soak', { soakS: -1 }, false],
    ['fractional maxConcurrent', { maxConcurrent: 1.5 }, false],
    ['maxPerMinute above 1,000,000', { maxPerMinute: 1_000_001 }, false],
    ['health gate on', { soakS: 60, healthGate: true }, true],
    ['health gate off', { soakS: 60, healthGate: false }, true],
    ['health gate margins', { soakS: 60, healthGate: { rebootsPerDevice: 0.5, stalePct: 10 } }, true],
    ['health gate with an unknown margin', { healthGate: { crashes: 1 } }, false],
    ['health gate with a negative margin', { healthGate: { stalePct: -1 } }, false],
  ])('%s', (_name, input, valid) => {
    expect(rolloutSchema.safeParse(input).success).toBe(valid);
  });

  it('keeps the settings as written (the API stores them so); the scheduler applies the defaults the issue names', () => {
    expect(rolloutSchema.parse({})).toEqual({});
    expect(withRolloutDefaults({})).toEqual({ successThresholdPct: 100, soakS: 0 });
    expect(withRolloutDefaults({ successThresholdPct: 90, soakS: 60 })).toEqual({ successThresholdPct: 90, soakS: 60 });
  });
});

describe('abortSchema', () => {
  const criterion = { failureType: 'FAILED', thresholdPercentage: 10, minExecuted: 20 };
  it.each<Case>([
    ['one criterion', { criteria: [criterion] }, true],
    ['every failure type', { criteria: ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'].map((failureType) => ({ ...criterion, failureType })) }, true],
    ['inProgress cancel', { criteria: [criterion], inProgress: 'cancel' }, true],
    ['no criteria', { criteria: [] }, false],
    ['CANCELED is not a failure type', { criteria: [{ ...criterion, failureType: 'CANCELED' }] }, false],
    ['threshold 0', { criteria: [{ ...criterion, thresholdPercentage: 0 }] }, false],
    ['minExecuted 0', { criteria: [{ ...criterion, minExecuted: 0 }] }, false],
    ['16 criteria', { criteria: Array.from({ length: 16 }, () => criterion) }, true],
    ['17 criteria', { criteria: Array.from({ length: 17 }, () => criterion) }, false],
    ['inProgress other', { criteria: [criterion], inProgress: 'pause' }, false],
  ])('%s', (_name, input, valid) => {
    expect(abortSchema.safeParse(input).success).toBe(valid);
  });

  it('leaves inProgress unset when not given (the scheduler finishes them: only `cancel` cancels)', () => {
    expect(abortSchema.parse({ criteria: [criterion] })).toEqual({ criteria: [criterion] });
  });
});

describe('scheduleSchema and windows', () => {
  it.each<Case>([
    ['empty', {}, true],
    ['start and end', { startAt: '2025-01-01T00:00:00Z', endAt: '2025-01-02T00:00:00+01:00', endBehavior: 'cancel' }, true],
    ['end before start', { startAt: '2025-01-02T00:00:00Z', endAt: '2025-01-01T00:00:00Z' }, false],
    ['an empty window list (leave it out for none)', { windows: [] }, false],
    ['33 windows', { windows: Array.from({ length: 33 }, () => ({ cron: '0 2 * * *', durationMin: 60 })) }, false],
    ['not a time', { startAt: 'tomorrow' }, false],
    ['a window', { windows: [{ cron: '0 2 * * *', durationMin: 120, timeZone: 'Europe/Berlin' }] }, true],
    ['a six-field cron', { windows: [{ cron: '30 0 2 * * 1-5', durationMin: 60 }] }, true],
    ['a bad cron', { windows: [{ cron: 'every night', durationMin: 60 }] }, false],
    ['an unknown zone', { windows: [{ cron: '0 2 * * *', durationMin: 60, timeZone: 'Mars/Olympus' }] }, false],
    ['a zero duration', { windows: [{ cron: '0 2 * * *', durationMin: 0 }] }, false],
    ['endBehavior other', { endBehavior: 'pause' }, false],
  ])('%s', (_name, input, valid) => {
    expect(scheduleSchema.safeParse(input).success).toBe(valid);
  });

  it('names endAt when it is not after startAt', () => {
    const parsed = scheduleSchema.safeParse({ startAt: '2025-01-02T00:00:00Z', endAt: '2025-01-01T00:00:00Z' });
    expect(parsed.error?.issues.map((i) => i.path)).toEqual([['endAt']]);
  });

  it('a window is a cron, a duration and an optional zone', () => {
    expect(windowSchema.parse({ cron: '0 2 * * *', durationMin: 30 })).toEqual({ cron: '0 2 * * *', durationMin: 30 });
  });
});

describe('siteSettingsSchema', () => {
  it.each<Case>([
    ['bandwidth only', { id: 'plant-1', uplinkBytesPerSec: 1_250_000 }, true],
    ['with zone and windows', { id: 'plant-1', uplinkBytesPerSec: 1, timeZone: 'Asia/Tokyo', windows: [{ cron: '0 1 * * *', durationMin: 60 }] }, true],
    ['no bandwidth', { id: 'plant-1' }, false],
    ['zero bandwidth', { id: 'plant-1', uplinkBytesPerSec: 0 }, false],
    ['id with a slash', { id: 'plant/1', uplinkBytesPerSec: 1 }, false],
  ])('%s', (_name, input, valid) => {
    expect(siteSettingsSchema.safeParse(input).success).toBe(valid);
  });
});
