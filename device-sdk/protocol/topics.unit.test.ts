import { describe, expect, it } from 'vitest';
import { filterMatches, filtersIntersect, isDeviceId, parseTopic, replyFilter, topicShapes, topics } from './index.js';

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

describe('replyFilter', () => {
  it.each([
    ['devices/d1/jobs/get', 'devices/d1/jobs/+/accepted'],
    ['devices/d1/jobs/j-7/update', 'devices/d1/jobs/+/+/accepted'],
    ['devices/d1/shadow/update', 'devices/d1/shadow/+/accepted'],
    ['devices/d1/shadow/name/cfg/delete', 'devices/d1/shadow/name/+/+/accepted'],
    ['devices/d1/certificates/create-from-csr', 'devices/d1/certificates/+/accepted'],
  ])('%s → %s', (topic, filter) => expect(replyFilter(topic, 'accepted')).toBe(filter));

  it.each(['devices/d1/telemetry', 'devices/d1/telemetry/temp', 'devices/d1/streams/fw/get', 'devices/d1/shadow/get/accepted', 'provisioning/SN-1/register', 'vendor/x/op'])(
    'is undefined for %s, which has no replies under devices/',
    (topic) => expect(replyFilter(topic, 'accepted')).toBeUndefined(),
  );

  // Every request of the protocol, with sample values for its placeholders.
  const requests = topicShapes
    .filter((s) => s.direction === 'up' && s.levels[0] === 'devices')
    .map((s) => s.levels.map((l) => (l === '{deviceId}' ? 'd1' : l.startsWith('{') ? 'x' : l)).join('/'));
  const asFilter = (levels: readonly string[]) => levels.map((l) => (l === '{deviceId}' ? 'd1' : l.startsWith('{') ? '+' : l)).join('/');

  it.each(requests.flatMap((topic) => (['accepted', 'rejected'] as const).map((outcome) => [topic, outcome] as const)))(
    'the filter for %s/%s matches that reply and nothing but replies of that outcome',
    (topic, outcome) => {
      const filter = replyFilter(topic, outcome);
      if (filter === undefined) return expect(parseTopic(`${topic}/${outcome}`)?.direction).not.toBe('down');
      expect(filterMatches(filter, `${topic}/${outcome}`)).toBe(true);
      for (const shape of topicShapes.filter((s) => filtersIntersect(filter, asFilter(s.levels)))) {
        expect(shape).toMatchObject({ direction: 'down', kind: expect.stringMatching(new RegExp(`/${outcome}$`)) });
      }
    },
  );
});

describe('shadowFilter', () => {
  it('covers every named shadow with one filter, and the classic one exactly', () => {
    expect(topics.shadowFilter('d1', false, 'update/delta')).toBe('devices/d1/shadow/update/delta');
    const named = topics.shadowFilter('d1', true, 'update/delta');
    expect(named).toBe('devices/d1/shadow/name/+/update/delta');
    expect(filterMatches(named, topics.shadow('d1', 'cfg', 'update/delta'))).toBe(true);
    expect(filterMatches(named, topics.shadow('d1', undefined, 'update/delta'))).toBe(false);
  });
});
