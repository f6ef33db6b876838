/**
 * The transports a device can reach the broker on. Each listener is one object with the same
 * small interface, so the service treats MQTT/TCP, MQTT/TLS and MQTT over WebSocket alike.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { MqttBroker } from './broker.js';

export interface Listener {
  readonly name: string;
  listen(): Promise<void>;
  /** The bound port (useful with port 0). */
  port(): number;
  listening(): boolean;
  /** Stops accepting; live connections are closed by the broker. */
  close(): Promise<void>;
}

/** A listener around any `net.Server`-like server (plain TCP, or TLS from certs/). */
export function serverListener(name: string, server: Server, host: string, port: number): Listener {
  return {
    name,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    port: () => (server.address() as AddressInfo | null)?.port ?? 0,
    listening: () => server.listening,
    close: () => new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
  };
}

export function tcpListener(broker: MqttBroker, host: string, port: number): Listener {
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    broker.handle(socket, 'tcp', socket.remoteAddress ?? 'unknown');
  });
  return serverListener('mqtt', server, host, port);
}

/**
 * MQTT over WebSocket at `/mqtt` on the HTTP server (subprotocol `mqtt`, as MQTT 3.1.1 §6 asks).
 * It shares the HTTP server's socket, so it is "up" whenever the HTTP listener is.
 */
export function webSocketListener(broker: MqttBroker, httpServer: HttpServer, transport: 'ws' | 'wss' = 'ws'): Listener {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/mqtt') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      broker.handle(createWebSocketStream(ws), transport, req.socket.remoteAddress ?? 'unknown');
    });
  });
  return {
    name: transport,
    listen: async () => undefined,
    port: () => (httpServer.address() as AddressInfo | null)?.port ?? 0,
    listening: () => httpServer.listening,
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
