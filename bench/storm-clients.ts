/**
 * Storm clients for bench/storm.ts: one raw MQTT 3.1.1 connection per device (CONNECT, CONNACK,
 * then quiet), cheap enough that 10,000 of them leave the load client's core mostly idle. Each
 * reconnects the way the Baton SDK does (device-sdk/connection.ts): full-jitter backoff from
 * device-sdk/backoff.ts (1 s base, 60 s cap), the attempt counter reset by a CONNACK 0 and raised
 * by every failed attempt, CONNACK 3 included; a persistent session (clean session 0) as the SDK
 * asks for; a 30 s CONNACK timeout.
 *
 * Traffic goes to 127.0.0.1 only. Each device binds a loopback source address of its own group
 * (127.1.x.y, 40 devices each by default), so the broker sees a fleet of addresses rather than
 * one host, as it would in the field; every address is still on this machine.
 */
import { connect, type Socket } from 'node:net';
import { nextDelay, type BackoffOptions } from '../device-sdk/backoff.js';
import { frame, str } from '../test/helpers/raw-mqtt.js';

export interface StormDevice {
  id: string;
  secret: string;
}

export interface StormCounters {
  attempts: number;
  /** CONNACK return codes other than 0, by code. */
  refused: Record<number, number>;
  /** Sockets that failed before any CONNACK (connection refused while the broker was down, closed at once, reset). */
  socketFailures: number;
  timeouts: number;
  connacks: number;
}

function connectPacket(id: string, secret: string): Buffer {
  // Protocol "MQTT" level 4; flags: username, password, clean session 0; keepalive 0 (no PINGREQs to send).
  return frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 0]), str(id), str(id), str(secret)]));
}

export const sourceAddress = (index: number, perAddress: number): string => {
  const a = Math.floor(index / perAddress);
  return `127.1.${Math.floor(a / 200)}.${1 + (a % 200)}`;
};

export class StormClient {
  private socket: Socket | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  up = false;
  /** performance.now() of the last CONNACK 0. */
  upAt = 0;

  constructor(
    private readonly device: StormDevice,
    private readonly port: number,
    private readonly localAddress: string,
    private readonly counters: StormCounters,
    private readonly backoff: BackoffOptions,
    private readonly onUp: (client: StormClient) => void,
  ) {}

  /** Connects now (no delay): the first connection, or a paced one. */
  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Drops the link at once, as a network blip would; the client then reconnects on its own. */
  drop(): void {
    this.socket?.destroy();
  }

  /** Closes for good (no reconnect). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): void {
    this.counters.attempts += 1;
    const socket = connect({ host: '127.0.0.1', port: this.port, localAddress: this.localAddress, noDelay: true });
    this.socket = socket;
    let connack = false;
    const timeout = setTimeout(() => {
      this.counters.timeouts += 1;
      socket.destroy();
    }, 30_000);
    socket.once('connect', () => socket.write(connectPacket(this.device.id, this.device.secret)));
    socket.on('error', () => undefined);
    socket.once('data', (data) => {
      clearTimeout(timeout);
      connack = true;
      this.counters.connacks += 1;
      const code = data[0] === 0x20 && data.length >= 4 ? data[3]! : -1;
      if (code === 0) {
        this.up = true;
        this.upAt = performance.now();
        this.attempt = 0;
        this.onUp(this);
      } else {
        this.counters.refused[code] = (this.counters.refused[code] ?? 0) + 1;
        socket.destroy();
      }
    });
    socket.once('close', () => {
      clearTimeout(timeout);
      if (!connack) this.counters.socketFailures += 1;
      this.up = false;
      if (this.socket === socket) this.socket = undefined;
      if (!this.stopped) this.schedule();
    });
  }

  private schedule(): void {
    const delay = nextDelay(this.attempt++, this.backoff);
    this.timer = setTimeout(() => this.open(), delay);
  }
}

export const newCounters = (): StormCounters => ({ attempts: 0, refused: {}, socketFailures: 0, timeouts: 0, connacks: 0 });
