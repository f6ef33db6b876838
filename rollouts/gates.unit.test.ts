import { describe, expect, it } from 'vitest';
import type { ExecutionStatus } from '../device-sdk/protocol/jobs.js';
import { crossedCriterion, defaultHealthTolerance, healthRegressions, noOutcomes, summarizeHealth, waveVerdict, type OutcomeCounts } from './gates.js';
import type { AbortCriterion } from './settings.js';

const S = 'SUCCEEDED';
const F = 'FAILED';

describe('waveVerdict', () => {
  it.each<[string, ExecutionStatus[], number, ReturnType<typeof waveVerdict>]>([
    ['undecided while any runs', [S, S, 'IN_PROGRESS'], 100, { state: 'running' }],
    ['undecided while any is queued', [S, 'QUEUED'], 0, { state: 'running' }],
    ['all succeeded passes 100 %', [S, S, S], 100, { state: 'passed', successPct: 100, finished: 3 }],
    ['one failure fails 100 %', [S, S, F], 100, { state: 'failed', successPct: (2 * 100) / 3, finished: 3 }],
    ['one failure in ten passes 90 %', [...Array<ExecutionStatus>(9).fill(S), F], 90, { state: 'passed', successPct: 90, finished: 10 }],
    ['rejected and timed out count as failures', [S, 'REJECTED', 'TIMED_OUT', S], 60, { state: 'failed', successPct: 50, finished: 4 }],
    ['canceled and removed are left out', [S, 'CANCELED', 'REMOVED'], 100, { state: 'passed', successPct: 100, finished: 1 }],
    ['all canceled: nothing against the firmware', ['CANCELED'], 100, { state: 'passed', successPct: 100, finished: 0 }],
  ])('%s', (_name, statuses, threshold, expected) => {
    expect(waveVerdict(statuses, threshold)).toEqual(expected);
  });
});

describe('crossedCriterion', () => {
  const c = (failureType: AbortCriterion['failureType'], thresholdPercentage: number, minExecuted: number): AbortCriterion => ({ failureType, thresholdPercentage, minExecuted });
  const counts = (o: Partial<OutcomeCounts>): OutcomeCounts => ({ ...noOutcomes(), ...o });
  it.each<[string, Partial<OutcomeCounts>, AbortCriterion[], AbortCriterion | undefined]>([
    ['not before minExecuted', { FAILED: 9 }, [c('FAILED', 10, 10)], undefined],
    ['at minExecuted and at the threshold', { FAILED: 1, SUCCEEDED: 9 }, [c('FAILED', 10, 10)], c('FAILED', 10, 10)],
    ['just under the threshold', { FAILED: 1, SUCCEEDED: 10 }, [c('FAILED', 10, 10)], undefined],
    ['other failure types do not count', { REJECTED: 5, SUCCEEDED: 5 }, [c('FAILED', 10, 1)], undefined],
    ['ALL sums the failure types', { FAILED: 1, REJECTED: 1, TIMED_OUT: 1, SUCCEEDED: 7 }, [c('ALL', 30, 10)], c('ALL', 30, 10)],
    ['the first crossed of several', { TIMED_OUT: 3, SUCCEEDED: 7 }, [c('FAILED', 10, 1), c('TIMED_OUT', 25, 5)], c('TIMED_OUT', 25, 5)],
  ])('%s', (_name, o, criteria, expected) => {
    expect(crossedCriterion(counts(o), criteria)).toEqual(expected);
  });
});

describe('health gating', () => {
  const devices = (n: number, reconnects: number, reboots: number, stale: number) => Array.from({ length: n }, () => ({ reconnects, reboots, stale }));

  it('summarizes a group per device', () => {
    expect(summarizeHealth([...devices(3, 2, 0, 0), { reconnects: 0, reboots: 1, stale: 3 }])).toEqual({ devices: 4, reconnectsPerDevice: 1.5, rebootsPerDevice: 0.25, stalePct: 25 });
    expect(summarizeHealth([])).toEqual({ devices: 0, reconnectsPerDevice: 0, rebootsPerDevice: 0, stalePct: 0 });
  });

  it.each([
    ['as healthy as the baseline', devices(10, 1, 0, 0), devices(10, 1, 0, 0), []],
    ['within the tolerance', devices(10, 1.4, 0, 0), devices(10, 1, 0, 0), []],
    ['more reconnects', devices(10, 2, 0, 0), devices(10, 1, 0, 0), [{ metric: 'reconnectsPerDevice', updated: 2, baseline: 1 }]],
    ['more reboots', devices(10, 0, 1, 0), devices(10, 0, 0, 0), [{ metric: 'rebootsPerDevice', updated: 1, baseline: 0 }]],
    ['one reboot in ten updated devices is within the tolerance', [...devices(9, 0, 0, 0), ...devices(1, 0, 1, 0)], devices(10, 0, 0, 0), []],
    ['one updated device in a crash loop (three boots) among ten', [...devices(9, 0, 0, 0), ...devices(1, 0, 3, 0)], devices(10, 0, 0, 0), [{ metric: 'rebootsPerDevice', updated: 0.3, baseline: 0 }]],
    ['more stale', [...devices(8, 0, 0, 0), ...devices(2, 0, 0, 1)], devices(10, 0, 0, 0), [{ metric: 'stalePct', updated: 20, baseline: 0 }]],
    ['a bad night for everyone is not the firmware', devices(10, 3, 1, 1), devices(10, 3, 1, 1), []],
    ['no updated devices: nothing to judge', [], devices(10, 0, 0, 0), []],
  ])('%s', (_name, updated, baseline, expected) => {
    expect(healthRegressions(summarizeHealth(updated), summarizeHealth(baseline), defaultHealthTolerance)).toEqual(expected);
  });
});
