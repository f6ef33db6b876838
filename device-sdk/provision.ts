/**
 * Zero-touch provisioning from the device side: `provision()` logs in with the template's claim
 * credential (a claim token, or a claim certificate over mutual TLS), registers the hardware
 * serial with a CSR, and returns the device's own credentials for the app to store. Then the app
 * connects with `connect({ url: 'mqtts://…', deviceId, cert, key, ca })`.
 *
 * The claim session is a short one of its own (client id `provision-{serial}`), not a
 * `DeviceClient`: it may only publish `provisioning/{serial}/register` and hear its replies.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  CLAIM_USERNAME,
  claimClientId,
  createKeyAndCsr,
  registerAcceptedSchema,
  type KeyAndCsr,
  type RegisterAccepted,
} from './certificates.js';
import { systemClock, type Clock } from './clock.js';
import { BatonError } from './protocol/errors.js';
import { topics } from './protocol/topics.js';
import { filterMatches } from './protocol/topic-filter.js';
import { Requests, type RequestLink } from './requests.js';
import type { TopicHandler } from './subscriptions.js';

/** The template's claim credential: a token, or a claim certificate and its key. */
export type ClaimCredential = { token: string } | { cert: string | Buffer; key: string | Buffer };

export interface ProvisionOptions {
  /** `mqtts://host:8883` (required for a claim certificate; recommended for a token). */
  url: string;
  claim: ClaimCredential;
  /** The provisioning template the claim credential belongs to. */
  template: string;
  /** The hardware serial: becomes the device id, so a CSR passed in must carry it as its CN. */
  serial: string;
  deviceClass: string;
  /** The CA to trust for the broker's certificate (`GET /api/v1/ca`). */
  ca?: string | Buffer;
  /** A CSR from a secure element; default: a new software P-256 key and its CSR. */
  csr?: KeyAndCsr;
  /** For the whole exchange: connect, register, reply. Default 30 s. */
  timeoutMs?: number;
  clock?: Clock;
}

/** What the app stores: its device id and credentials, and whether it must wait for approval. */
export interface ProvisionedDevice extends KeyAndCsr {
  deviceId: string;
  certificatePem: string;
  certificateSerial: string;
  notAfter: Date;
  /** `pending`: the broker refuses the device until an operator approves it; keep retrying connect. */
  status: RegisterAccepted['status'];
}

function claimOptions(o: ProvisionOptions): IClientOptions {
  const login = 'token' in o.claim ? { username: CLAIM_USERNAME, password: o.claim.token } : { cert: o.claim.cert, key: o.claim.key };
  return {
    clientId: claimClientId(o.serial),
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: o.timeoutMs ?? 30_000,
    ...login,
    ...(o.ca === undefined ? {} : { ca: o.ca }),
  };
}

/** Request/response (requests.ts) over the claim session's mqtt.js client. */
function linkOver(client: MqttClient): RequestLink {
  const handlers = new Map<string, TopicHandler>();
  client.on('message', (topic, payload) => {
    for (const [filter, handler] of handlers) if (filterMatches(filter, topic)) handler({ topic, payload });
  });
  return {
    online: () => client.connected,
    async onTopic(filter, handler) {
      handlers.set(filter, handler);
      await client.subscribeAsync(filter, { qos: 1 });
    },
    async publish(topic, payload, qos) {
      await client.publishAsync(topic, payload, { qos });
    },
  };
}

async function claimSession(o: ProvisionOptions): Promise<MqttClient> {
  try {
    return await mqtt.connectAsync(o.url, claimOptions(o), false);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const refused = typeof code === 'number' && (code === 4 || code === 5);
    throw new BatonError(refused ? 'Unauthorized' : 'Unavailable', `provisioning login failed: ${(err as Error).message}`);
  }
}

/**
 * Registers the device. Rejects with the `BatonError` of the broker's `…/rejected` reply:
 * `NotAllowed` (serial or device class not admitted), `AlreadyProvisioned`, `Forbidden` (a claim
 * for another template), `InvalidCsr`/`WeakKey`/`CsrSubjectMismatch`; or `Unauthorized` when the
 * claim credential is refused at login.
 */
export async function provision(options: ProvisionOptions): Promise<ProvisionedDevice> {
  const keyAndCsr = options.csr ?? (await createKeyAndCsr(options.serial));
  const client = await claimSession(options);
  const requests = new Requests(linkOver(client), {
    clock: options.clock ?? systemClock,
    newToken: randomUUID,
    defaultTimeoutMs: options.timeoutMs ?? 30_000,
  });
  const closed = () => requests.failAll(new BatonError('Unavailable', 'the broker closed the provisioning session'));
  client.once('close', closed);
  try {
    const request = { templateName: options.template, serial: options.serial, deviceClass: options.deviceClass, csr: keyAndCsr.csrPem };
    const reply = await requests.request(topics.provisioning(options.serial, 'register'), request, { schema: registerAcceptedSchema });
    const { deviceId, certificate, certificateSerial, notAfter, status } = reply;
    return { ...keyAndCsr, deviceId, certificatePem: certificate, certificateSerial, notAfter: new Date(notAfter), status };
  } finally {
    client.off('close', closed);
    await client.endAsync();
  }
}
