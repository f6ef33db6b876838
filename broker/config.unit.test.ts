import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, readRawConfig, settings } from './config.js';

describe('configuration', () => {
  it('has defaults for everything but the admin token', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ dataDir: './data', mqttPort: 1883, httpPort: 8080, host: '0.0.0.0', logLevel: 'info', allowAnonymous: false });
    expect(config.adminToken).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads BATON_* variables and --flags, flags winning', () => {
    const raw = readRawConfig({ BATON_MQTT_PORT: '1884', BATON_HTTP_PORT: '9000' }, ['--http-port', '9001', '--allow-anonymous=true']);
    expect(parseConfig(raw)).toMatchObject({ mqttPort: 1884, httpPort: 9001, allowAnonymous: true });
  });

  it.each([
    [{ BATON_MQTT_PORT: '70000' }, 'BATON_MQTT_PORT (--mqtt-port)'],
    [{ BATON_HTTP_PORT: 'eighty' }, 'BATON_HTTP_PORT (--http-port)'],
    [{ BATON_LOG_LEVEL: 'loud' }, 'BATON_LOG_LEVEL (--log-level)'],
    [{ BATON_ADMIN_TOKEN: 'short' }, 'BATON_ADMIN_TOKEN (--admin-token)'],
    [{ BATON_ALLOW_ANONYMOUS: 'yes' }, 'BATON_ALLOW_ANONYMOUS (--allow-anonymous)'],
  ])('names the setting of a bad value: %j', (env, name) => {
    expect(() => parseConfig(readRawConfig(env, []))).toThrow(ConfigError);
    expect(() => parseConfig(readRawConfig(env, []))).toThrow(name);
  });

  it('refuses unknown flags', () => {
    expect(() => readRawConfig({}, ['--mqtt-prot', '1'])).toThrow('unknown option --mqtt-prot');
  });

  it('is documented in the README with every default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const defaults = parseConfig({});
    for (const [key, s] of Object.entries(settings)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${s.env}\``));
      expect(row, `README row for ${s.env}`).toBeDefined();
      const value = defaults[key as keyof typeof defaults];
      expect(row, `default of ${s.env}`).toContain(value === undefined ? '(none)' : `\`${String(value)}\``);
    }
  });
});
