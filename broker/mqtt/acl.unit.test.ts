import { describe, expect, it } from 'vitest';
import { canPublish, canReceive, canSubscribe, filterCovers } from './acl.js';
import type { Principal } from './principal.js';

const a: Principal = { kind: 'device', deviceId: 'dev-a' };
const integration: Principal = { kind: 'integration', tokenId: 't1' };
const anonymous: Principal = { kind: 'anonymous' };
const claim: Principal = { kind: 'claim', serial: 'SN1', template: 'factory', claimId: 'c1' };

describe('canPublish', () => {
  it.each([
    [a, 'devices/dev-a/telemetry', true],
    [a, 'devices/dev-a/telemetry/temp', true],
    [a, 'devices/dev-a/health', true],
    [a, 'devices/dev-a/shadow/update', true],
    [a, 'devices/dev-a/shadow/name/cfg/get', true],
    [a, 'devices/dev-a/jobs/job-1/update', true],
    [a, 'devices/dev-a/streams/fw1/get', true],
    [a, 'devices/dev-b/telemetry', false], // another device
    [a, 'devices/dev-a/shadow/update/accepted', false], // a reply topic
    [a, 'devices/dev-a/shadow/update/delta', false],
    [a, 'devices/dev-a/errors', false],
    [a, 'devices/dev-a/jobs/notify-next', false],
    [a, 'devices/dev-a/telemetry/a/b', false], // not a protocol topic
    [a, 'devices/dev-a/unknown', false],
    [a, 'fleet/events/presence/dev-a', false],
    [a, 'other/topic', false],
    [a, '$SYS/x', false],
    [integration, 'devices/dev-a/telemetry', false], // read-only
    [integration, 'fleet/events/x', false],
    [anonymous, 'sandbox/hello', true],
    [anonymous, 'devices/dev-a/telemetry', false],
    [anonymous, 'fleet/events/x', false],
    [anonymous, 'provisioning/SN1/register', false],
    [anonymous, '$SYS/broker', false],
    [claim, 'provisioning/SN1/register', true],
    [claim, 'provisioning/SN2/register', false],
    [claim, 'provisioning/SN1/register/accepted', false],
    [claim, 'devices/SN1/telemetry', false],
  ] as const)('%j publishing %s → %s', (principal, topic, allowed) => {
    expect(canPublish(principal, topic)).toBe(allowed);
  });
});

describe('canSubscribe', () => {
  it.each([
    [a, 'devices/dev-a/shadow/#', true],
    [a, 'devices/dev-a/#', true],
    [a, 'devices/dev-a/errors', true],
    [a, 'devices/dev-a/jobs/notify-next', true],
    [a, 'devices/dev-a/streams/+/data/+', true],
    [a, 'devices/dev-a/+/update/accepted', true],
    [a, 'devices/dev-a/telemetry', false], // nothing is ever sent to a device there
    [a, 'devices/dev-b/#', false],
    [a, 'devices/+/errors', false], // wildcard reaching other devices
    [a, 'devices/#', false],
    [a, '#', false],
    [a, '+/dev-a/errors', false],
    [a, 'fleet/events/#', false],
    [integration, 'devices/+/telemetry/#', true],
    [integration, 'devices/dev-a/telemetry', true],
    [integration, 'devices/+/telemetry/temp', true],
    [integration, 'devices/+/health', true],
    [integration, 'fleet/events/#', true],
    [integration, 'fleet/events/presence/+', true],
    [integration, 'devices/+/shadow/#', false],
    [integration, 'devices/#', false],
    [integration, '#', false],
    [integration, 'fleet/#', false],
    [anonymous, '#', true], // granted; canReceive filters at delivery
    [claim, 'provisioning/SN1/register/#', true],
    [claim, 'provisioning/SN1/register/accepted', true],
    [claim, 'provisioning/+/register/#', false],
    [claim, 'provisioning/SN2/register/accepted', false],
  ] as const)('%j subscribing %s → %s', (principal, filter, allowed) => {
    expect(canSubscribe(principal, filter)).toBe(allowed);
  });
});

describe('canReceive', () => {
  it.each([
    [a, 'devices/dev-a/errors', true],
    [a, 'devices/dev-b/errors', false],
    [integration, 'devices/dev-a/telemetry/x', true],
    [integration, 'devices/dev-a/shadow/update', false],
    [anonymous, 'sandbox/x', true],
    [anonymous, 'devices/dev-a/telemetry', false],
    [anonymous, 'fleet/events/presence/dev-a', false],
    [anonymous, '$SYS/broker/x', false],
  ] as const)('%j receiving %s → %s', (principal, topic, allowed) => {
    expect(canReceive(principal, topic)).toBe(allowed);
  });
});

describe('filterCovers', () => {
  it.each([
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/b/c', false],
    ['a/b', 'a/+', false],
    ['a/b', 'a/b', true],
  ])('%s covers %s → %s', (allowed, filter, expected) => {
    expect(filterCovers(allowed, filter)).toBe(expected);
  });
});
