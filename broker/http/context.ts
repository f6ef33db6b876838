import type { TokenService } from '../auth/tokens.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Metrics } from '../metrics.js';
import type { Credential } from '../mqtt/principal.js';
import type { PresenceTracker } from '../presence/tracker.js';
import type { SessionLifecycle } from '../sessions/types.js';
import type { Store } from '../store/types.js';
import type { AuthGuard } from './auth.js';

/** What route plugins need; built once by the service and passed as plugin options. */
export interface ApiContext {
  store: Store;
  registry: DeviceRegistry;
  tokens: TokenService;
  presence: PresenceTracker;
  metrics: Metrics;
  guard: AuthGuard;
  /** MQTT sessions: shown on a device, deleted with it. */
  sessions: Pick<SessionLifecycle, 'info' | 'forget'>;
  /** Live MQTT connections: those that logged in with a revoked credential are closed at once. */
  connections: { disconnectCredential(credential: Credential): number };
  /** `/healthz` is 200 only when this says every listener is up and the store is open. */
  ready: () => boolean;
}
