import { describe, expect, it } from 'vitest';
import { filterMatches, isDeviceId, parseTopic, topics } from './index.js';

describe('parseTopic', () => {
  it.each([
    ['devices/d1/telemetry', 'telemetry', 'up', { deviceId: 'd1' }],
    ['devices/d1/telemetry/temp', 'telemetry', 'up', { deviceId: 'd1', stream: 'temp' }],
    ['devices/d1/shadow/name/cfg/update/delta', 'shadow/update/delta', 'down', { deviceId: 'd1', shadowName: 'cfg' }],
    ['devices/d1/streams/fw-1/data/17', 'stream/data', 'down', { deviceId: 'd1', firmwareId: 'fw-1', blockIndex: '17' }],
    ['devices/d1/jobs/j1/update/rejected', 'jobs/job/update/rejected', 'down', { deviceId: 'd1', jobId: 'j1' }],
    ['provisioning/SN-1/register', 'provisioning/register', 'up', { serial: 'SN-1' }],
  ])('%s', (topic, kind, direction, params) => {
    expect(parseTopic(topic)).toEqual({ kind, direction, params });
  });

  it.each(['devices/d1', 'devices//telemetry', 'devices/d1/telemetry/a/b', 'devices/d1/streams/f/data/-1', 'devices/d1/shadow/name/bad.name/get', 'x/y'])(
    'rejects %s',
    (topic) => expect(parseTopic(topic)).toBeUndefined(),
  );

  it('round-trips every builder', () => {
    expect(parseTopic(topics.shadow('d1', undefined, 'update/accepted'))?.kind).toBe('shadow/update/accepted');
    expect(parseTopic(topics.streamData('d1', 'fw', 3))?.params.blockIndex).toBe('3');
    expect(parseTopic(topics.jobs('d1', 'notify-next'))?.kind).toBe('jobs/notify-next');
  });
});

describe('device ids', () => {
  it.each([['a', true], ['A-z_0.9:x', true], ['x'.repeat(128), true], ['x'.repeat(129), false], ['', false], ['a/b', false], ['a+b', false], ['a#', false], ['a b', false]])(
    '%s → %s',
    (id, ok) => expect(isDeviceId(id)).toBe(ok),
  );
});

describe('filterMatches', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/#', 'a', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/+', 'a/b/c', false],
  ])('%s matches %s → %s', (f, t, ok) => expect(filterMatches(f, t)).toBe(ok));
});
