import type { Config } from '../config.js';
import type { SessionLimits } from './types.js';

/** The session bounds from the service configuration (README: configuration table). */
export const sessionLimits = (config: Config): SessionLimits => ({
  maxQueued: config.sessionMaxQueued,
  maxQueuedBytes: config.sessionMaxQueuedBytes,
  expiryMs: config.sessionExpiryS * 1000,
  maxRetained: config.mqttMaxRetained,
});
