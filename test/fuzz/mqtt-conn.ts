/**
 * A raw MQTT connection over TCP or WebSocket that writes whatever bytes it is given and parses
 * what the broker sends back with mqtt-packet, so the campaign can wait for a CONNACK or PINGRESP
 * and notice a broker that sends something that is not MQTT.
 */
import { connect, type Socket } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import mqttPacket, { type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import type { Chunking, Transport } from './mqtt-packets.js';

export class RawConn {
  /** Every packet the broker sent, in order. */
  readonly received: Packet[] = [];
  /** Set when the broker sent bytes that do not parse as MQTT 3.1.1. */
  malformed: string | undefined;
  closed = false;
  readonly whenClosed: Promise<void>;
  private waiters: Array<() => void> = [];
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });

  private constructor(
    private readonly sendBytes: (b: Buffer) => void,
    private readonly halfClose: () => void,
    private readonly kill: () => void,
    onClose: (cb: () => void) => void,
  ) {
    this.parser.on('packet', (p: Packet) => {
      this.received.push(p);
      this.wake();
    });
    this.parser.on('error', (e: Error) => (this.malformed ??= e.message));
    this.whenClosed = new Promise((resolve) =>
      onClose(() => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static open(transport: Transport, ports: { mqtt: number; http: number }, timeoutMs = 5000): Promise<RawConn> {
    return transport === 'tcp' ? RawConn.tcp(ports.mqtt, timeoutMs) : RawConn.ws(ports.http, timeoutMs);
  }

  private static tcp(port: number, timeoutMs: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('tcp connect timed out'));
      }, timeoutMs);
      socket.on('error', () => undefined); // ECONNRESET / EPIPE after the broker closes
      const conn = new RawConn(
        (b) => void (socket.writable && socket.write(b)),
        () => socket.end(),
        () => socket.destroy(),
        (cb) => socket.once('close', cb),
      );
      socket.on('data', (d: Buffer) => conn.parser.parse(d));
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(conn);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error('tcp connection refused'));
      });
    });
  }

  private static ws(port: number, timeoutMs: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt', { handshakeTimeout: timeoutMs });
      ws.on('error', () => undefined);
      const conn = new RawConn(
        (b) => void (ws.readyState === WebSocket.OPEN && ws.send(b)),
        () => ws.close(),
        () => ws.terminate(),
        (cb) => ws.once('close', cb),
      );
      ws.on('message', (d: Buffer) => conn.parser.parse(Buffer.isBuffer(d) ? d : Buffer.from(d as ArrayBuffer)));
      ws.once('open', () => resolve(conn));
      ws.once('close', () => reject(new Error('websocket closed before open')));
    });
  }

  /** Writes `bytes` at once, or split at the cut points of `chunking` with an event-loop turn between writes. */
  async write(bytes: Buffer, chunking: Chunking = null): Promise<void> {
    if (this.closed || bytes.length === 0) return;
    if (!chunking) return this.sendBytes(bytes);
    const cuts = [...new Set(chunking.map((c) => c % bytes.length))].sort((a, b) => a - b);
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      if (cut <= from) continue;
      if (this.closed) return;
      this.sendBytes(bytes.subarray(from, cut));
      from = cut;
      await tick();
    }
  }

  end(): void {
    this.halfClose();
  }

  destroy(): void {
    this.kill();
  }

  /** Resolves with the first received packet (from index `from`) that `match`es, or undefined on close or timeout. */
  async waitFor(match: (p: Packet) => boolean, timeoutMs: number, from = 0): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves true once closed, false if still open after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    if (this.closed) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([this.whenClosed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
