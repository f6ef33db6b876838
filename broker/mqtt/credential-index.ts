/**
 * Which live connections logged in with which credential (`credentialKey`), so that revoking a
 * credential ends them at once (broker.ts `disconnectCredential`).
 *
 * Two races are closed here rather than left to luck:
 * - a connection is indexed as soon as authentication admits it, before aedes registers it; one
 *   dropped in between is closed the moment it is registered;
 * - an authentication still running when its credential is dropped may have read the store
 *   before the revocation: `attempt().revokedSince(keys)` tells, so the broker refuses it.
 */
export class CredentialIndex<C extends object> {
  private readonly byKey = new Map<string, Set<C>>();
  private readonly keysOf = new Map<C, readonly string[]>();
  private readonly registeredConnections = new WeakSet<C>();
  private readonly closeWhenRegistered = new WeakSet<C>();
  /** Authentications under way, by the sequence number they started at (insertion order = oldest first). */
  private readonly running = new Set<number>();
  /** Credentials dropped while authentications were running, with the sequence number of the drop. */
  private readonly droppedAt = new Map<string, number>();
  private sequence = 0;

  /** @param close ends a registered connection (a kick). */
  constructor(private readonly close: (connection: C) => void) {}

  /** Starts an authentication; call `end()` once it has completed, whatever the outcome. */
  attempt(): { revokedSince(keys: readonly string[]): boolean; end(): void } {
    const started = ++this.sequence;
    this.running.add(started);
    return {
      revokedSince: (keys) => keys.some((key) => (this.droppedAt.get(key) ?? 0) > started),
      end: () => {
        if (!this.running.delete(started) || this.droppedAt.size === 0) return;
        // A drop matters only to authentications that started before it.
        const oldest: number = this.running.values().next().value ?? Infinity;
        for (const [key, at] of this.droppedAt) if (at <= oldest) this.droppedAt.delete(key);
      },
    };
  }

  /** An admitted connection and the credentials it logged in with. */
  add(connection: C, keys: readonly string[]): void {
    if (keys.length === 0) return;
    this.keysOf.set(connection, keys);
    for (const key of keys) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(connection);
    }
  }

  /** aedes registered the connection; one whose credential was dropped meanwhile is closed now. */
  registered(connection: C): void {
    this.registeredConnections.add(connection);
    if (this.closeWhenRegistered.has(connection)) queueMicrotask(() => this.close(connection));
  }

  /** The connection ended (registered or not). Idempotent. */
  remove(connection: C): void {
    const keys = this.keysOf.get(connection);
    if (!keys) return;
    this.keysOf.delete(connection);
    for (const key of keys) {
      const set = this.byKey.get(key);
      set?.delete(connection);
      if (set?.size === 0) this.byKey.delete(key);
    }
  }

  /** Ends every connection that logged in with this credential; returns how many. */
  drop(key: string): number {
    if (this.running.size > 0) this.droppedAt.set(key, ++this.sequence);
    const connections = [...(this.byKey.get(key) ?? [])];
    for (const connection of connections) {
      this.remove(connection);
      if (this.registeredConnections.has(connection)) this.close(connection);
      else this.closeWhenRegistered.add(connection);
    }
    return connections.length;
  }

  /** Connections indexed (for tests and leak checks). */
  get size(): number {
    return this.keysOf.size;
  }
}
