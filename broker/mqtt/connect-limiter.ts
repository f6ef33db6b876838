/**
 * Connection storms. After a broker restart the whole fleet reconnects at once, and admitting a
 * connection (authentication, session, presence, the connection log) is the expensive part:
 *
 * - `reserve()`: a token bucket over every CONNECT, on every listener
 *   (`BATON_MQTT_MAX_CONNECTS_PER_SEC`; it holds one second's worth, so a burst of that many goes
 *   through at once). Past it a CONNECT waits for its slot, up to `BATON_MQTT_CONNECT_WAIT_MS`;
 *   one whose slot is further away is answered CONNACK 3 (server unavailable) before any
 *   authentication work, which MQTT clients, the Baton SDK included, retry with backoff.
 *   Waiting first matters: a refusal is not free (accept, CONNACK, close: about half the CPU of an
 *   admission on the bench machine), and a device refused late in a storm has already backed off
 *   several times, so its next window is wide. bench/storm.ts measured both (docs/BENCHMARKS.md).
 * - `accept()` / `settle()`: sockets from one remote address that have not authenticated yet
 *   (`BATON_MQTT_MAX_PENDING_CONNECTS_PER_ADDRESS`): no CONNECT yet, or its authentication still
 *   running. Past the cap a new socket is closed at once, so one address cannot hold thousands of
 *   half-open connections for the 30 s aedes waits for a CONNECT. A socket stops counting once it
 *   authenticated or closed.
 *
 * 0 disables either limit.
 */
export interface ConnectLimits {
  connectsPerSec: number;
  pendingPerAddress: number;
  /** How long a CONNECT past the rate may wait for its slot before it is refused; 0: refused at once. */
  maxWaitMs?: number;
}

export class ConnectLimiter<S extends object = object> {
  private tokens: number;
  private refilledAt: number;
  private readonly pending = new Map<string, number>();
  /** The address each pending socket counts against. */
  private readonly pendingAddress = new WeakMap<S, string>();

  /** @param now a monotonic clock in ms (injected for tests). */
  constructor(
    private readonly limits: ConnectLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limits.connectsPerSec;
    this.refilledAt = now();
  }

  /** A new socket from `address`; false when that address has too many unauthenticated ones (close it). */
  accept(socket: S, address: string): boolean {
    const count = this.pending.get(address) ?? 0;
    if (this.limits.pendingPerAddress > 0 && count >= this.limits.pendingPerAddress) return false;
    this.pending.set(address, count + 1);
    this.pendingAddress.set(socket, address);
    return true;
  }

  /** The socket authenticated or closed: it no longer counts against its address. Idempotent. */
  settle(socket: S): void {
    const address = this.pendingAddress.get(socket);
    if (address === undefined) return;
    this.pendingAddress.delete(socket);
    const count = (this.pending.get(address) ?? 1) - 1;
    if (count > 0) this.pending.set(address, count);
    else this.pending.delete(address);
  }

  /**
   * Reserves the next slot for one CONNECT: 0 to go now, a delay in ms to wait for it (at most
   * `maxWaitMs`), or undefined when it is further than that (answer CONNACK 3).
   */
  reserve(): number | undefined {
    const rate = this.limits.connectsPerSec;
    if (rate === 0) return 0;
    const now = this.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    const wait = this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / rate;
    if (wait > (this.limits.maxWaitMs ?? 0)) return undefined;
    this.tokens -= 1;
    return wait;
  }

  /** Unauthenticated sockets counted against `address` now. */
  pendingFrom(address: string): number {
    return this.pending.get(address) ?? 0;
  }
}
