/**
 * Which connection of a device its presence follows, across takeovers [MQTT-3.1.4-2].
 *
 * A second connection with a device's client id authenticates first and registers later (aedes
 * closes the older one only then, in registerClient), and either may die in between:
 *
 * - the older one closes while the newer is still on its way: presence holds (the device is
 *   reconnecting, not gone) until the newer registers, or dies too;
 * - the newer one dies before it registers: the older one, if still up, keeps the device online,
 *   and its own disconnect later takes the device offline like any other.
 *
 * So a device is offline exactly when its registered connection is gone and no authenticated
 * successor is still alive. The broker reports three moments per connection: `authenticated`
 * (aedes.authenticate admitted it), `registered` (aedes' 'client'), `disconnected` (aedes'
 * 'clientDisconnect'), plus `closed` when its socket closes, the one moment every connection has.
 */
export interface PresenceSink<S> {
  connected(session: S): void;
  disconnected(deviceId: string, reason: string): void;
}

/** A connection as aedes has it: `closed` turns true synchronously when it starts closing. */
export interface DeviceConnection {
  readonly closed: boolean;
}

export class DeviceConnections<C extends DeviceConnection, S> {
  /** The registered connection each online device's presence follows. */
  private readonly current = new Map<string, C>();
  /** Authenticated connections not registered yet, by device. */
  private readonly pending = new Map<string, Set<C>>();
  /** Devices held online for a pending successor: the reason to report if none arrives. */
  private readonly held = new Map<string, string>();
  private readonly deviceOf = new WeakMap<C, string>();

  constructor(private readonly presence: PresenceSink<S>) {}

  /** Authentication admitted `connection` for `deviceId`. */
  authenticated(deviceId: string, connection: C): void {
    if (connection.closed) return;
    this.deviceOf.set(connection, deviceId);
    let set = this.pending.get(deviceId);
    if (!set) this.pending.set(deviceId, (set = new Set()));
    set.add(connection);
  }

  /**
   * aedes registered `connection`: it becomes the one presence follows. Returns false (and
   * reports nothing) for one that closed on its way, which aedes registers all the same.
   */
  registered(deviceId: string, connection: C, session: S): boolean {
    this.deviceOf.set(connection, deviceId);
    this.pending.get(deviceId)?.delete(connection);
    if (connection.closed) {
      this.settle(deviceId);
      return false;
    }
    this.current.set(deviceId, connection);
    this.held.delete(deviceId);
    this.presence.connected(session);
    return true;
  }

  /** aedes unregistered `connection` ('clientDisconnect'). */
  disconnected(connection: C, reason: string): void {
    const deviceId = this.deviceOf.get(connection);
    if (deviceId === undefined || this.current.get(deviceId) !== connection) return;
    this.current.delete(deviceId);
    if (this.successor(deviceId)) this.held.set(deviceId, reason);
    else this.presence.disconnected(deviceId, reason);
  }

  /** The connection's socket closed (every connection gets here, registered or not). */
  closed(connection: C): void {
    const deviceId = this.deviceOf.get(connection);
    if (deviceId === undefined) return;
    const set = this.pending.get(deviceId);
    if (set?.delete(connection)) this.settle(deviceId);
  }

  private successor(deviceId: string): boolean {
    for (const c of this.pending.get(deviceId) ?? []) if (!c.closed) return true;
    return false;
  }

  /** A successor is gone: a device held for it goes offline if no other is on its way. */
  private settle(deviceId: string): void {
    if (this.pending.get(deviceId)?.size === 0) this.pending.delete(deviceId);
    const reason = this.held.get(deviceId);
    if (reason === undefined || this.current.has(deviceId) || this.successor(deviceId)) return;
    this.held.delete(deviceId);
    this.presence.disconnected(deviceId, reason);
  }
}
