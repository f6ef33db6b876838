/**
 * The transports a device can reach the broker on. Each listener is one object with the same
 * small interface, so the service treats MQTT/TCP, MQTT/TLS and MQTT over WebSocket alike.
 */
import type { X509Certificate } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage, RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, TLSSocket, type TlsOptions } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { settings } from '../config.js';
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

/**
 * Connections the kernel may hold accepted but not yet taken by the event loop (Node's default is
 * 511; Linux caps it at net.core.somaxconn, 4096 by default). When a fleet reconnects at once, a
 * full queue drops handshakes and the devices wait out TCP retransmits or a 30 s CONNACK timeout;
 * in bench/storm.ts (10,000 devices dropped at once, no connect cap) 511 left 1,400–1,900 of them
 * waiting out the 30 s timeout and took 35–40 s to get everyone back; 4096: none in 5 of 6 runs,
 * everyone back in 9–17 s (docs/BENCHMARKS.md, "Reconnect storm").
 */
export const LISTEN_BACKLOG = 4096;

/** A listener around any `net.Server`-like server (plain TCP, or TLS from certs/). */
export function serverListener(name: string, server: Server, host: string, port: number): Listener {
  return {
    name,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
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

/** Called when a TLS client is turned away before MQTT starts, with a short reason for metrics and logs. */
export type TlsRefused = (reason: string, remoteAddress: string) => void;

/**
 * Requests a client certificate but lets clients without one through, so token logins keep
 * working over TLS; `authenticate.ts` decides. Chain and validity are checked by OpenSSL in the
 * handshake, not rejected there (`rejectUnauthorized: false` is what lets certificate-less clients
 * in), so a certificate that failed is refused here, before any MQTT byte is read.
 */
const clientCertificateOptions = { requestCert: true, rejectUnauthorized: false } as const;

/** The verified client certificate, `undefined` if none was sent, or `'refused'` (socket destroyed). */
function clientCertificate(socket: TLSSocket, onRefused: TlsRefused): X509Certificate | undefined | 'refused' {
  const peer = socket.getPeerX509Certificate();
  if (!peer) return undefined;
  if (socket.authorized) return peer;
  onRefused(`tls-${String(socket.authorizationError ?? 'unauthorized')}`, socket.remoteAddress ?? 'unknown');
  socket.destroy();
  return 'refused';
}

/** MQTT over TLS (`mqtts://`, port 8883 by convention): mutual TLS for devices with certificates. */
export function tlsListener(broker: MqttBroker, host: string, port: number, secure: TlsOptions, onRefused: TlsRefused): Listener {
  const server = createTlsServer({ ...secure, ...clientCertificateOptions }, (socket) => {
    socket.setNoDelay(true);
    const peerCertificate = clientCertificate(socket, onRefused);
    if (peerCertificate === 'refused') return;
    broker.handle(socket, 'tls', socket.remoteAddress ?? 'unknown', peerCertificate ? { peerCertificate } : undefined);
  });
  server.on('tlsClientError', (_err, socket) => onRefused('tls-handshake', socket.remoteAddress ?? 'unknown'));
  return serverListener('mqtts', server, host, port);
}

/**
 * The admin API over HTTPS (the same fastify app, through `app.routing`), which also carries MQTT
 * over secure WebSocket with `webSocketListener(broker, server, 'wss', onRefused)`.
 */
export function httpsListener(handler: RequestListener, host: string, port: number, secure: TlsOptions): Listener & { server: HttpsServer } {
  const server = createHttpsServer({ ...secure, ...clientCertificateOptions }, handler);
  const listener = serverListener('https', server, host, port);
  return {
    ...listener,
    server,
    close: () => {
      const closed = listener.close();
      server.closeAllConnections(); // keep-alive API clients would otherwise hold close() open
      return closed;
    },
  };
}

/** `BATON_MQTT_MAX_PACKET_BYTES`' default, for callers that do not pass the configured value. */
const defaultMaxPacketBytes = settings.mqttMaxPacketBytes.schema.parse(undefined);

/**
 * MQTT over WebSocket at `/mqtt` on the HTTP server (subprotocol `mqtt`, as MQTT 3.1.1 §6 asks).
 * It shares the HTTP server's socket, so it is "up" whenever the HTTP listener is.
 * `maxPacketBytes` also bounds one WebSocket message (`ws` closes with 1009 beyond it), so a
 * client cannot make `ws` reassemble a huge message before the broker's packet-size guard sees it.
 */
export function webSocketListener(
  broker: MqttBroker,
  httpServer: HttpServer | HttpsServer,
  transport: 'ws' | 'wss' = 'ws',
  onRefused: TlsRefused = () => undefined,
  maxPacketBytes: number = defaultMaxPacketBytes,
): Listener {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxPacketBytes,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/mqtt') {
      socket.destroy();
      return;
    }
    const peerCertificate = req.socket instanceof TLSSocket ? clientCertificate(req.socket, onRefused) : undefined;
    if (peerCertificate === 'refused') return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      broker.handle(createWebSocketStream(ws), transport, req.socket.remoteAddress ?? 'unknown', peerCertificate ? { peerCertificate } : undefined);
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
