/**
 * `connect()` options: one zod schema with the defaults, validated once, then frozen. The
 * TypeScript types of the options come from the schema too, so the docs (README.md's table),
 * the checks and the types cannot disagree about a default.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { systemClock, type Clock } from './clock.js';
import type { HealthSample } from './health.js';
import type { JobsOptions } from './jobs.js';
import { BatonError } from './protocol/errors.js';
import { DEVICE_ID_PATTERN } from './protocol/topics.js';
import { issueFields } from './protocol/validation.js';

const fn = <T extends (...args: never[]) => unknown>() => z.custom<T>((v) => typeof v === 'function', 'must be a function');
/** PEM strings or buffers, handed to Node's TLS as they are (mqtt.js passes them to `tls.connect`). */
const tlsMaterial = z.custom<string | string[] | Buffer | Buffer[]>(
  (v) => typeof v === 'string' || Buffer.isBuffer(v) || Array.isArray(v),
  'must be a PEM string, a Buffer, or an array of them',
);
const brokerUrl = z.string().refine((s) => URL.canParse(s) && ['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(new URL(s).protocol), {
  message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL',
});

export const connectOptionsSchema = z.object({
  /** The broker: `mqtt://host:1883`, `mqtts://host:8883`, `ws://host:8080/mqtt` or `wss://…`. */
  url: brokerUrl,
  /** Sent as MQTT client id and username: the broker requires both to be the device id. */
  deviceId: z.string().regex(DEVICE_ID_PATTERN, 'must be 1–128 characters of A-Z a-z 0-9 _ - . :'),
  /** The device secret (MQTT password). Optional for a device that authenticates with a client certificate. */
  secret: z.string().min(1).optional(),
  /** Client certificate, its private key and the CA to trust, for mutual TLS (`mqtts://`, `wss://`). */
  cert: tlsMaterial.optional(),
  key: tlsMaterial.optional(),
  ca: tlsMaterial.optional(),
  /** MQTT keepalive: a dead link is noticed within 1.5 × this (MQTT-3.1.2-24). */
  keepaliveS: z.int().min(0).max(65_535).default(60),
  /** How long to wait for CONNACK on each attempt. */
  connectTimeoutMs: z.int().positive().default(30_000),
  /** Telemetry held while offline; when full the oldest is dropped (and counted in `stats.dropped`). */
  offlineQueueLimit: z.int().min(0).default(1000),
  /** Full-jitter backoff between reconnect attempts (see backoff.ts). */
  reconnect: z
    .object({ minMs: z.int().positive().default(1000), maxMs: z.int().positive().default(60_000) })
    .refine((r) => r.maxMs >= r.minMs, { message: 'maxMs must be at least minMs', path: ['maxMs'] })
    .prefault({}),
  health: z
    .object({
      /** Seconds between reports; sent as `intervalS`, so the broker marks the device stale after 3 × this. */
      intervalS: z.int().min(1).max(86_400).default(60),
      /** Adds or overrides fields of the default sample (uptime, CPU, free memory). */
      sample: fn<HealthSample>().optional(),
      enabled: z.boolean().default(true),
    })
    .prefault({}),
  /** For `client.jobs`: trusted signing keys, the running firmware version, a state file (see jobs.ts). */
  jobs: z.custom<JobsOptions>((v) => typeof v === 'object' && v !== null).default({}),
  /** Default timeout of `client.request()`. */
  requestTimeoutMs: z.int().positive().default(10_000),
  /** Injected for tests: the timers the client sets. */
  clock: z.custom<Clock>((v) => typeof v === 'object' && v !== null).default(systemClock),
  /** Injected for tests: a source of [0, 1) for backoff jitter. */
  random: fn<() => number>().default(() => Math.random),
  /** Injected for tests: makes the `clientToken` of each request. */
  newToken: fn<() => string>().default(() => randomUUID),
});

export type ConnectOptions = z.input<typeof connectOptionsSchema>;
export type ResolvedOptions = Readonly<z.output<typeof connectOptionsSchema>>;

/** Validates and fills in defaults; throws `InvalidRequest` naming every bad option. */
export function resolveOptions(input: ConnectOptions): ResolvedOptions {
  const parsed = connectOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const fields = issueFields(parsed.error);
    const summary = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; ');
    throw new BatonError('InvalidRequest', `invalid connect options (${summary})`, { fields });
  }
  return Object.freeze(parsed.data);
}
