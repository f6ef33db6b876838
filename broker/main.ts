/**
 * The entry point: the only module that reads the environment, prints to the terminal, listens
 * and handles signals. Everything else is built by buildService().
 */
import { ConfigError, parseConfig, readRawConfig } from './config.js';
import { installRejectionPolicy } from './process-policy.js';
import { buildService } from './service.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(readRawConfig(process.env, process.argv.slice(2)));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`baton: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const service = await buildService(config);
  // Fire-and-forget work that fails is logged and counted, not a crash (process-policy.ts).
  installRejectionPolicy(process, service.log, service.metrics.unhandledRejections);
  const { mqttPort, httpPort, mqttsPort, httpsPort } = await service.listen();
  if (service.firstAdminToken) {
    // Printed once, to the terminal only: it is never logged and cannot be shown again.
    process.stdout.write(
      `\nFirst admin API token (shown once; store it now):\n\n  ${service.firstAdminToken}\n\n` +
        `Try: curl -H "Authorization: Bearer <token>" http://localhost:${httpPort}/api/v1/devices\n\n`,
    );
  }
  process.stdout.write(`Baton is up: MQTT on ${config.host}:${mqttPort}, HTTP + MQTT/WebSocket on ${config.host}:${httpPort}\n`);
  process.stdout.write(`MQTT over TLS (client certificates) on ${config.host}:${mqttsPort}\n`);
  if (httpsPort) process.stdout.write(`HTTPS + MQTT/secure WebSocket on ${config.host}:${httpsPort}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    service.log.info({ signal }, 'shutting down');
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        service.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`baton: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
