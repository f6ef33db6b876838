import { pino, type Logger } from 'pino';

/**
 * Structured logs. Secrets never reach a log line by design; the redaction list is the safety net
 * for fields that could carry one (request headers, MQTT passwords, token and secret fields).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'baton' },
      redact: {
        paths: [
          'password', '*.password', 'secret', '*.secret', 'token', '*.token',
          'req.headers.authorization', 'headers.authorization', 'privateKey', '*.privateKey',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
