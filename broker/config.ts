/**
 * Service configuration: one zod schema, read from `BATON_*` environment variables or the
 * matching `--flags` (`BATON_MQTT_PORT` ↔ `--mqtt-port`), validated once, then frozen. A bad
 * value stops start-up with a message naming the setting. The README's configuration table lists
 * the same settings with the same defaults (test/config-docs.test.ts keeps them in step).
 */
import { z } from 'zod';
import { DEFAULT_MAX_DEPTH_BYTES } from '../firmware-updates/pacing.js';
import { DEFAULT_HISTORY_VERSIONS } from './shadows/changes.js';
import { defaultShadowLimits } from './shadows/limits.js';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
/** `a,b, c` → `['a', 'b', 'c']`. */
const hostList = z
  .union([z.array(z.string()), z.string().transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean))])
  .pipe(z.array(z.string().min(1)).min(1));
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

/** Each setting: its environment variable, schema with default, and what it is for. */
export const settings = {
  dataDir: { env: 'BATON_DATA_DIR', schema: z.string().min(1).default('./data'), doc: 'Directory for the SQLite database, keys and firmware.' },
  host: { env: 'BATON_HOST', schema: z.string().min(1).default('0.0.0.0'), doc: 'Address every listener binds to.' },
  mqttPort: { env: 'BATON_MQTT_PORT', schema: port.default(1883), doc: 'MQTT over TCP (0 picks a free port).' },
  httpPort: { env: 'BATON_HTTP_PORT', schema: port.default(8080), doc: 'Admin API, `/healthz`, `/metrics`, `/docs`, and MQTT over WebSocket at `/mqtt`.' },
  adminToken: { env: 'BATON_ADMIN_TOKEN', schema: z.string().min(32).optional(), doc: 'Sets the first admin token (≥ 32 characters) instead of generating one. For automation.' },
  logLevel: { env: 'BATON_LOG_LEVEL', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), doc: 'pino log level.' },
  allowAnonymous: { env: 'BATON_ALLOW_ANONYMOUS', schema: bool.default(false), doc: 'Let clients without credentials use topics outside `devices/`, `fleet/`, `provisioning/` (like Mosquitto `allow_anonymous`).' },
  telemetryMaxBytes: { env: 'BATON_TELEMETRY_MAX_BYTES', schema: positiveInt.default(65_536), doc: 'Largest telemetry or health payload accepted.' },
  telemetryRetentionDays: { env: 'BATON_TELEMETRY_RETENTION_DAYS', schema: positiveInt.default(30), doc: 'Telemetry older than this is deleted.' },
  telemetryMaxRowsPerDevice: { env: 'BATON_TELEMETRY_MAX_ROWS_PER_DEVICE', schema: positiveInt.default(100_000), doc: 'Newest telemetry rows kept per device.' },
  healthHistory: { env: 'BATON_HEALTH_HISTORY', schema: positiveInt.default(100), doc: 'Health reports kept per device.' },
  defaultHealthIntervalS: { env: 'BATON_DEFAULT_HEALTH_INTERVAL_S', schema: positiveInt.default(60), doc: 'Assumed reporting interval of a device that has not sent `intervalS`; silent for 3× this = `stale`.' },
  shadowMaxStateBytes: { env: 'BATON_SHADOW_MAX_STATE_BYTES', schema: positiveInt.default(defaultShadowLimits.maxStateBytes), doc: 'Largest shadow state (compact JSON of `desired` and `reported`); default as AWS IoT.' },
  shadowMaxDepth: { env: 'BATON_SHADOW_MAX_DEPTH', schema: positiveInt.default(defaultShadowLimits.maxDepth), doc: 'Deepest nesting inside `desired` or `reported`; default as AWS IoT.' },
  shadowHistory: { env: 'BATON_SHADOW_HISTORY', schema: z.coerce.number().int().min(0).default(DEFAULT_HISTORY_VERSIONS), doc: 'Versions of history kept per shadow (`GET …/shadow/history`); 0 keeps none.' },
  firmwareMaxBytes: { env: 'BATON_FIRMWARE_MAX_BYTES', schema: positiveInt.default(1024 ** 3), doc: 'Largest firmware image accepted by `POST /api/v1/firmware` (streamed to disk, never buffered).' },
  egressBytesPerSec: { env: 'BATON_EGRESS_BYTES_PER_SEC', schema: z.coerce.number().int().min(0).default(0), doc: 'Global cap on firmware bytes sent to devices per second, over all downloads; 0 is unlimited.' },
  firmwareDeviceBytesPerSec: { env: 'BATON_FIRMWARE_DEVICE_BYTES_PER_SEC', schema: z.coerce.number().int().min(0).default(0), doc: 'Default cap on firmware bytes per second to one device; 0 is unlimited. Sites add 80% of their `uplinkBytesPerSec`.' },
  firmwareBurstBytes: { env: 'BATON_FIRMWARE_BURST_BYTES', schema: z.coerce.number().int().min(256).default(DEFAULT_MAX_DEPTH_BYTES), doc: "Ceiling on a firmware pacing bucket's depth, which is 10 ms of its own rate: in any window of W s a cap at rate R sends at most R × W + max(one block, min(R × 10 ms, this)). Buckets start empty." },
  firmwareMaxOutstandingBlocks: { env: 'BATON_FIRMWARE_MAX_OUTSTANDING_BLOCKS', schema: z.coerce.number().int().min(64).default(256), doc: 'Blocks one device may have queued for delivery; more is refused with `RateLimited` (one request asks for ≤ 64).' },
  // --- MQTT sessions and bounds (broker/sessions, broker/mqtt) ---
  sessionMaxQueued: { env: 'BATON_SESSION_MAX_QUEUED', schema: positiveInt.default(1000), doc: 'Messages queued for one persistent session (clean session 0) while it is offline or not acknowledging; when full the oldest is dropped.' },
  sessionMaxQueuedBytes: { env: 'BATON_SESSION_MAX_QUEUED_BYTES', schema: positiveInt.default(1024 * 1024), doc: 'Payload bytes queued for one persistent session; when full the oldest is dropped, the newest always gets in.' },
  sessionExpiryS: { env: 'BATON_SESSION_EXPIRY_S', schema: positiveInt.default(7 * 86_400), doc: "A persistent session with no connection for this long is deleted, with its subscriptions and queue (Mosquitto's `persistent_client_expiration`)." },
  mqttMaxSubscriptions: { env: 'BATON_MQTT_MAX_SUBSCRIPTIONS', schema: positiveInt.default(256), doc: 'Topic filters one client may hold; filters past it get 0x80 in the SUBACK.' },
  mqttMaxPacketBytes: { env: 'BATON_MQTT_MAX_PACKET_BYTES', schema: z.coerce.number().int().min(1024).default(256 * 1024), doc: "Largest MQTT packet accepted, checked from the fixed header before the body is read: a larger one closes the connection. Also the WebSocket listener's largest message." },
  mqttMaxRetained: { env: 'BATON_MQTT_MAX_RETAINED', schema: z.coerce.number().int().min(0).default(10_000), doc: 'Retained messages kept (anonymous mode only: the retain flag is ignored under `devices/`, `fleet/`, `provisioning/`); a new topic past it is not retained.' },
  mqttMaxConnectsPerSec: { env: 'BATON_MQTT_MAX_CONNECTS_PER_SEC', schema: z.coerce.number().int().min(0).default(1000), doc: "CONNECTs admitted per second over all listeners (a token bucket holding one second's worth). Past it a CONNECT waits for its turn up to `BATON_MQTT_CONNECT_WAIT_MS`, then gets CONNACK 3 (server unavailable), which devices retry with jittered backoff. 0 is unlimited." },
  mqttConnectWaitMs: { env: 'BATON_MQTT_CONNECT_WAIT_MS', schema: z.coerce.number().int().min(0).max(30_000).default(5000), doc: 'How long a CONNECT past `BATON_MQTT_MAX_CONNECTS_PER_SEC` may wait for its turn before it is refused with CONNACK 3; 0 refuses at once.' },
  mqttMaxPendingConnectsPerAddress: { env: 'BATON_MQTT_MAX_PENDING_CONNECTS_PER_ADDRESS', schema: z.coerce.number().int().min(0).default(256), doc: 'Connections from one remote address that have not authenticated yet (no CONNECT, or its authentication under way); a new socket past it is closed at once. 0 is unlimited.' },
  // --- certificates and mutual TLS (broker/certs) ---
  mqttsPort: { env: 'BATON_MQTTS_PORT', schema: port.default(8883), doc: 'MQTT over TLS 1.2/1.3 that asks for a client certificate: a device certificate from the fleet CA logs the device in (0 picks a free port).' },
  httpsPort: { env: 'BATON_HTTPS_PORT', schema: port.optional(), doc: 'Also serve the admin API over HTTPS on this port, with MQTT over secure WebSocket at `/mqtt` (client certificates accepted). Unset: off.' },
  tlsHostnames: { env: 'BATON_TLS_HOSTNAMES', schema: hostList.default(['localhost', '127.0.0.1']), doc: 'Comma-separated host names and IP addresses the generated TLS server certificate names.' },
  caPassphrase: { env: 'BATON_CA_PASSPHRASE', schema: z.string().optional(), doc: 'Encrypts the CA and server private keys in `{data dir}/ca/` (and decrypts `BATON_CA_KEY`/`BATON_TLS_KEY`). Unset: stored unencrypted, mode 0600.' },
  caCert: { env: 'BATON_CA_CERT', schema: z.string().min(1).optional(), doc: 'An existing CA certificate (e.g. your intermediate, optionally followed by its issuers) to issue device certificates with, instead of creating one. Needs `BATON_CA_KEY`.' },
  caKey: { env: 'BATON_CA_KEY', schema: z.string().min(1).optional(), doc: 'The private key of `BATON_CA_CERT` (PEM; encrypted PKCS#8 with `BATON_CA_PASSPHRASE`).' },
  tlsCert: { env: 'BATON_TLS_CERT', schema: z.string().min(1).optional(), doc: 'A TLS server certificate (PEM, leaf first) to serve instead of issuing one from the fleet CA. Needs `BATON_TLS_KEY`.' },
  tlsKey: { env: 'BATON_TLS_KEY', schema: z.string().min(1).optional(), doc: 'The private key of `BATON_TLS_CERT`.' },
  mqttPasswordAuth: { env: 'BATON_MQTT_PASSWORD_AUTH', schema: bool.default(true), doc: 'Accept username/password logins (device secret, API token, claim token) on MQTT over TCP and plain WebSocket.' },
  mqttsPasswordAuth: { env: 'BATON_MQTTS_PASSWORD_AUTH', schema: bool.default(true), doc: 'Accept username/password logins on MQTTS and secure WebSocket; `false` makes client certificates the only way in there.' },
  certLifetimeDays: { env: 'BATON_CERT_LIFETIME_DAYS', schema: positiveInt.max(3650).default(365), doc: 'Lifetime of issued device and claim certificates.' },
  certExpiryWarningDays: { env: 'BATON_CERT_EXPIRY_WARNING_DAYS', schema: positiveInt.default(30), doc: 'Window of the `baton_certificates_expiring_devices` metric: devices whose newest certificate expires within it.' },
  jobsTickMs: { env: 'BATON_JOBS_TICK_MS', schema: z.coerce.number().int().min(10).max(60_000).default(1000), doc: 'How often job timeouts, admission and continuous-job targets are checked.' },
  jobsMaxPerMinute: { env: 'BATON_JOBS_MAX_PER_MINUTE', schema: positiveInt.default(1000), doc: "Devices a job notifies per minute when its `rollout` sets no `maxPerMinute` (AWS IoT Jobs' ceiling)." },
  jobsConfigTtlS: { env: 'BATON_JOBS_CONFIG_TTL_S', schema: positiveInt.default(3600), doc: "How long a config job's signed envelope stays valid after it is delivered to a device." },
} as const;

type Settings = typeof settings;
export type Config = Readonly<{ [K in keyof Settings]: z.output<Settings[K]['schema']> }>;
export type ConfigInput = { [K in keyof Settings]?: z.input<Settings[K]['schema']> };

const configSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([k, s]) => [k, s.schema])) as { [K in keyof Settings]: Settings[K]['schema'] },
);

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const flagName = (env: string) => `--${env.replace(/^BATON_/, '').toLowerCase().replaceAll('_', '-')}`;

/** Reads raw values: flags win over environment variables. */
export function readRawConfig(env: NodeJS.ProcessEnv, argv: string[]): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const [key, s] of Object.entries(settings)) {
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== '') raw[key] = fromEnv;
  }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const entry = Object.entries(settings).find(([, s]) => flagName(s.env) === flag);
    if (!entry) throw new ConfigError(`unknown option ${flag}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`option ${flag} needs a value`);
    raw[entry[0]] = value;
  }
  return raw;
}

/** Validates once; the message names the environment variable and the flag of each bad setting. */
export function parseConfig(input: Record<string, unknown>): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const s = settings[issue.path[0] as keyof Settings];
      return s ? `${s.env} (${flagName(s.env)}): ${issue.message}` : issue.message;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return Object.freeze(result.data) as Config;
}

export { flagName };
