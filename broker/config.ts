/**
 * Service configuration: one zod schema, read from `BATON_*` environment variables or the
 * matching `--flags` (`BATON_MQTT_PORT` ↔ `--mqtt-port`), validated once, then frozen. A bad
 * value stops start-up with a message naming the setting. The README's configuration table lists
 * the same settings with the same defaults (test/config-docs.test.ts keeps them in step).
 */
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
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
