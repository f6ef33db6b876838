import { EventEmitter } from 'node:events';
import type { DeviceStatus, PresenceEvent, Transport } from '../../device-sdk/protocol/index.js';
import { deviceStatus, type LiveState } from './status.js';

export interface Session extends LiveState {
  deviceId: string;
  connectedAtMs: number;
  transport: Transport;
  remoteAddress: string;
  /** Closes this connection (kick). */
  disconnect: () => void;
  /** Whether the sweep last saw it stale, so `stale` and `active` events fire once per change. */
  wasStale: boolean;
}

/**
 * Who is connected right now, and since when. In-memory: presence is a property of this broker's
 * sockets, rebuilt from connects after a restart; the durable record is the connection log.
 */
export class PresenceTracker extends EventEmitter<{ event: [PresenceEvent] }> {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly options: { clock: () => number; defaultIntervalS: number }) {
    super();
  }

  connected(session: Omit<Session, 'lastActivityMs' | 'wasStale' | 'connectedAtMs' | 'intervalS'> & { intervalS?: number }): void {
    const now = this.options.clock();
    this.sessions.set(session.deviceId, { intervalS: undefined, ...session, connectedAtMs: now, lastActivityMs: now, wasStale: false });
    this.emitEvent(session.deviceId, 'connected', 'online', { transport: session.transport, remoteAddress: session.remoteAddress });
  }

  disconnected(deviceId: string, reason: string): void {
    const s = this.sessions.get(deviceId);
    if (!s) return;
    this.sessions.delete(deviceId);
    this.emitEvent(deviceId, 'disconnected', 'offline', { transport: s.transport, remoteAddress: s.remoteAddress, reason });
  }

  activity(deviceId: string, intervalS?: number): void {
    const s = this.sessions.get(deviceId);
    if (!s) return;
    s.lastActivityMs = this.options.clock();
    if (intervalS !== undefined) s.intervalS = intervalS;
    if (s.wasStale) {
      s.wasStale = false;
      this.emitEvent(deviceId, 'active', 'online');
    }
  }

  session(deviceId: string): Session | undefined {
    return this.sessions.get(deviceId);
  }

  status(deviceId: string, everConnected: boolean): DeviceStatus {
    return deviceStatus(this.sessions.get(deviceId), everConnected, this.options.clock(), this.options.defaultIntervalS);
  }

  connectedIds(): string[] {
    return [...this.sessions.keys()];
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Emits `stale` once for each device that went silent; run periodically. */
  sweep(): void {
    for (const s of this.sessions.values()) {
      const stale = this.status(s.deviceId, true) === 'stale';
      if (stale && !s.wasStale) {
        s.wasStale = true;
        this.emitEvent(s.deviceId, 'stale', 'stale');
      }
    }
  }

  private emitEvent(deviceId: string, event: PresenceEvent['event'], status: DeviceStatus, extra: Partial<PresenceEvent> = {}): void {
    this.emit('event', { deviceId, event, status, at: new Date(this.options.clock()).toISOString(), ...extra });
  }
}
