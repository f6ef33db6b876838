import { describe, expect, it } from 'vitest';
import { DeviceConnections } from './device-connections.js';

class Conn {
  closed = false;
  constructor(readonly name: string) {}
}

function setUp() {
  const online = new Map<string, string>();
  const events: string[] = [];
  const devices = new DeviceConnections<Conn, { deviceId: string; via: string }>({
    connected: (s) => {
      online.set(s.deviceId, s.via);
      events.push(`connected ${s.via}`);
    },
    disconnected: (deviceId, reason) => {
      online.delete(deviceId);
      events.push(`disconnected ${reason}`);
    },
  });
  const register = (c: Conn) => devices.registered('d', c, { deviceId: 'd', via: c.name });
  /** aedes closing a connection: `closed` at once, 'clientDisconnect' if it was registered, then the socket's close. */
  const close = (c: Conn, reason = 'connection-lost', registered = true) => {
    c.closed = true;
    if (registered) devices.disconnected(c, reason);
    devices.closed(c);
  };
  return { devices, online, events, register, close };
}

describe('DeviceConnections: presence across takeovers', () => {
  it('connects and disconnects a device', () => {
    const { devices, online, events, register, close } = setUp();
    const a = new Conn('a');
    devices.authenticated('d', a);
    expect(register(a)).toBe(true);
    expect(online.get('d')).toBe('a');
    close(a, 'client-disconnect');
    expect(online.has('d')).toBe(false);
    expect(events).toEqual(['connected a', 'disconnected client-disconnect']);
  });

  it('a takeover keeps the device online throughout', () => {
    const { devices, online, events, register, close } = setUp();
    const [a, b] = [new Conn('a'), new Conn('b')];
    devices.authenticated('d', a);
    register(a);
    devices.authenticated('d', b);
    close(a, 'taken-over'); // aedes closes a in registerClient(b), then registers b
    expect(online.get('d')).toBe('a');
    register(b);
    expect(online.get('d')).toBe('b');
    expect(events).toEqual(['connected a', 'connected b']);
  });

  it('a successor that dies before registering leaves the live connection online, whose own disconnect counts', () => {
    const { devices, online, events, register, close } = setUp();
    const [a, b] = [new Conn('a'), new Conn('b')];
    devices.authenticated('d', a);
    register(a);
    devices.authenticated('d', b);
    close(b, 'connection-lost', false);
    expect(online.get('d')).toBe('a');
    close(a, 'client-disconnect');
    expect(online.has('d')).toBe(false);
    expect(events).toEqual(['connected a', 'disconnected client-disconnect']);
  });

  it('the old connection gone, then its successor dying before it registered: offline', () => {
    const { devices, online, events, register, close } = setUp();
    const [a, b] = [new Conn('a'), new Conn('b')];
    devices.authenticated('d', a);
    register(a);
    devices.authenticated('d', b);
    close(a, 'connection-lost');
    expect(online.get('d')).toBe('a'); // held for b
    close(b, 'connection-lost', false);
    expect(online.has('d')).toBe(false);
    expect(events).toEqual(['connected a', 'disconnected connection-lost']);
  });

  it('a successor that is already closed when the old one goes does not hold the device', () => {
    const { devices, online, register, close } = setUp();
    const [a, b] = [new Conn('a'), new Conn('b')];
    devices.authenticated('d', a);
    register(a);
    devices.authenticated('d', b);
    b.closed = true; // closing; its socket's close event comes later
    close(a);
    expect(online.has('d')).toBe(false);
    devices.closed(b);
    expect(online.has('d')).toBe(false);
  });

  it('ignores a connection that closed before authentication admitted it', () => {
    const { devices, online, register, close } = setUp();
    const [a, b] = [new Conn('a'), new Conn('b')];
    devices.authenticated('d', a);
    register(a);
    b.closed = true;
    devices.authenticated('d', b);
    close(a);
    expect(online.has('d')).toBe(false);
  });

  it('a connection registered dead is not announced, and releases a held device', () => {
    const { devices, online, events, register, close } = setUp();
    const [a, b] = [new Conn('a'), new Conn('b')];
    devices.authenticated('d', a);
    register(a);
    devices.authenticated('d', b);
    close(a, 'taken-over');
    b.closed = true;
    expect(register(b)).toBe(false);
    expect(online.has('d')).toBe(false);
    expect(events).toEqual(['connected a', 'disconnected taken-over']);
  });

  it('holds while any of several successors is alive', () => {
    const { devices, online, register, close } = setUp();
    const [a, b, c] = [new Conn('a'), new Conn('b'), new Conn('c')];
    devices.authenticated('d', a);
    register(a);
    devices.authenticated('d', b);
    devices.authenticated('d', c);
    close(a);
    close(b, 'connection-lost', false);
    expect(online.get('d')).toBe('a');
    register(c);
    expect(online.get('d')).toBe('c');
    close(c);
    expect(online.has('d')).toBe(false);
  });
});
