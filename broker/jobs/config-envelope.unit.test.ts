import { describe, expect, it } from 'vitest';
import { isBatonError } from '../../device-sdk/protocol/errors.js';
import { openConfigEnvelope } from '../../device-sdk/protocol/jobs.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../firmware-updates/signing-keys.js';
import { configSigner } from './config-envelope.js';
import { T0 } from './test-fixtures.js';

const key = signingKeyFromPem(generateSigningKeyPem('ES256').privateKeyPem);
const other = signingKeyFromPem(generateSigningKeyPem('EdDSA').privateKeyPem);
const trusted = [{ keyId: key.keyId, algorithm: key.algorithm, publicKeyPem: key.publicKeyPem }];
const sign = configSigner({ current: () => key }, 3600);
const config = { sampleRateHz: 10, mode: 'eco' };

const codeOf = (jws: string, expect: Partial<Parameters<typeof openConfigEnvelope>[1]> = {}) => {
  try {
    openConfigEnvelope(jws, { trustedKeys: trusted, deviceId: 'dev-1', jobId: 'job-1', now: T0 + 1000, ...expect });
    return 'accepted';
  } catch (err) {
    if (!isBatonError(err)) throw err;
    return err.code;
  }
};

describe('config job envelope', () => {
  it('opens for the device and job it was signed for, before it expires', async () => {
    const jws = await sign({ deviceId: 'dev-1', jobId: 'job-1', config }, T0);
    expect(openConfigEnvelope(jws, { trustedKeys: trusted, deviceId: 'dev-1', jobId: 'job-1', now: T0 + 1000 })).toEqual({
      deviceId: 'dev-1', jobId: 'job-1', config, issuedAt: new Date(T0).toISOString(), expiresAt: new Date(T0 + 3_600_000).toISOString(),
    });
  });

  it.each([
    ['replayed to another device', { deviceId: 'dev-2' }, 'Replay'],
    ['replayed for another job', { jobId: 'job-2' }, 'Replay'],
    ['opened after it expired', { now: T0 + 3_600_000 }, 'Expired'],
    ['signed by a key the device does not trust', { trustedKeys: [{ keyId: other.keyId, algorithm: other.algorithm, publicKeyPem: other.publicKeyPem }] }, 'UntrustedKey'],
  ] as const)('refuses one %s → %s', async (_name, expectation, code) => {
    expect(codeOf(await sign({ deviceId: 'dev-1', jobId: 'job-1', config }, T0), expectation)).toBe(code);
  });

  it('refuses a tampered config → SignatureInvalid', async () => {
    const [h, p, s] = (await sign({ deviceId: 'dev-1', jobId: 'job-1', config }, T0)).split('.');
    const body = JSON.parse(Buffer.from(p!, 'base64url').toString());
    body.config.mode = 'turbo';
    expect(codeOf(`${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`)).toBe('SignatureInvalid');
  });

  it('refuses a re-addressed envelope (the device id is signed) → SignatureInvalid', async () => {
    const [h, p, s] = (await sign({ deviceId: 'dev-2', jobId: 'job-1', config }, T0)).split('.');
    const body = JSON.parse(Buffer.from(p!, 'base64url').toString());
    body.deviceId = 'dev-1';
    expect(codeOf(`${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`)).toBe('SignatureInvalid');
  });
});
