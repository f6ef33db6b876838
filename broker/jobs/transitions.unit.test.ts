import { describe, expect, it } from 'vitest';
import { EXECUTION_STATUSES, type ExecutionStatus } from '../../device-sdk/protocol/jobs.js';
import { isBatonError } from '../../device-sdk/protocol/errors.js';
import { execution } from './test-fixtures.js';
import { checkTransition, type Actor } from './transitions.js';

/** The whole table, written out independently of transitions.ts: every allowed change and who makes it. */
const allowed = new Set([
  'QUEUED→IN_PROGRESS by device', 'QUEUED→SUCCEEDED by device', 'QUEUED→FAILED by device', 'QUEUED→REJECTED by device',
  'QUEUED→CANCELED by service', 'QUEUED→REMOVED by service',
  'IN_PROGRESS→IN_PROGRESS by device', 'IN_PROGRESS→SUCCEEDED by device', 'IN_PROGRESS→FAILED by device', 'IN_PROGRESS→REJECTED by device',
  'IN_PROGRESS→TIMED_OUT by service', 'IN_PROGRESS→CANCELED by service', 'IN_PROGRESS→REMOVED by service',
  'FAILED→QUEUED by service', 'TIMED_OUT→QUEUED by service', 'REMOVED→QUEUED by service',
]);
const terminal: ExecutionStatus[] = ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED'];

const outcome = (from: ExecutionStatus, to: ExecutionStatus, actor: Actor): string => {
  try {
    checkTransition(execution({ status: from }), to, actor);
    return 'allowed';
  } catch (err) {
    if (!isBatonError(err)) throw err;
    return err.code;
  }
};

const cases = EXECUTION_STATUSES.flatMap((from) =>
  EXECUTION_STATUSES.flatMap((to) => (['device', 'service'] as const).map((actor) => {
    const key = `${from}→${to} by ${actor}`;
    const expected = allowed.has(key) ? 'allowed' : terminal.includes(from) ? 'TerminalState' : 'InvalidStateTransition';
    return [key, from, to, actor, expected] as const;
  })),
);

describe('execution state machine', () => {
  it.each(cases)('%s → %s', (_key, from, to, actor, expected) => {
    expect(outcome(from, to, actor)).toBe(expected);
  });

  it('covers all 128 (from, to, actor) combinations', () => {
    expect(cases).toHaveLength(128);
    expect(cases.filter((c) => c[4] === 'allowed')).toHaveLength(allowed.size);
  });

  it('carries the current executionState on a refusal', () => {
    try {
      checkTransition(execution({ status: 'SUCCEEDED', versionNumber: 4, statusDetails: { ok: true } }), 'FAILED', 'device');
      expect.unreachable();
    } catch (err) {
      expect(isBatonError(err) && err.details).toEqual({ executionState: { status: 'SUCCEEDED', statusDetails: { ok: true }, versionNumber: 4 } });
    }
  });
});
