/**
 * Config jobs deliver their config signed like firmware manifests: a compact JWS (same key, same
 * algorithms) over `{ deviceId, jobId, config, issuedAt, expiresAt }` with its own `typ`, made
 * for one device when its execution is delivered. The device checks it with
 * `openConfigEnvelope` (device-sdk/protocol/jobs.ts), so a captured envelope is refused by any
 * other device (`Replay`), for any other job (`Replay`), and after it expires (`Expired`).
 */
import { CompactSign } from 'jose';
import type { ServerSigningKey } from '../../firmware-updates/signing-keys.js';
import { CONFIG_ENVELOPE_TYP, type ConfigEnvelope } from '../../device-sdk/protocol/jobs.js';
import type { JsonObject } from '../../device-sdk/protocol/json.js';

export type ConfigSigner = (input: { deviceId: string; jobId: string; config: JsonObject }, now: number) => Promise<string>;

/** Signs with the broker's key current at each delivery, so envelopes follow a key rotation at once. */
export function configSigner(serverKey: Pick<ServerSigningKey, 'current'>, ttlS: number): ConfigSigner {
  return (input, now) => {
    const key = serverKey.current();
    const envelope: ConfigEnvelope = {
      deviceId: input.deviceId,
      jobId: input.jobId,
      config: input.config,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlS * 1000).toISOString(),
    };
    return new CompactSign(Buffer.from(JSON.stringify(envelope)))
      .setProtectedHeader({ alg: key.algorithm, kid: key.keyId, typ: CONFIG_ENVELOPE_TYP })
      .sign(key.privateKey);
  };
}
