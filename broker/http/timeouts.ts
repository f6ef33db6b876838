/**
 * How long the admin API's HTTP servers wait for a client.
 *
 * Node's own `requestTimeout` bounds every request on a server alike, and the firmware upload
 * (`POST /api/v1/firmware`, up to BATON_FIRMWARE_MAX_BYTES = 1 GiB, streamed to disk) cannot
 * live with a total deadline: 1 GiB takes 14 min at 10 Mbit/s and over 2 h at 1 Mbit/s, so any
 * deadline that lets it through would protect nothing for the 1 MiB JSON routes. So:
 *
 * - Node's `headersTimeout` bounds the request line and headers of every request (slowloris);
 * - Node's `requestTimeout` is off, and `installRequestDeadline` bounds the body instead, per
 *   route: every body must have arrived `requestTimeoutMs` after its headers, except on a route
 *   with `config: { bodyTimeout: 'idle' }` (the firmware upload) once the caller is
 *   authenticated. An unauthenticated body (answered 401 at once, then discarded by Node) is
 *   still cut off at the deadline;
 * - the idle timeout (Node's `server.timeout`, fastify's `connectionTimeout`) closes a
 *   connection on which nothing moved for `idleTimeoutMs`: it is what bounds a stalled upload
 *   (as nginx's `client_body_timeout`, 60 s between two reads);
 * - `keepAliveTimeoutMs` closes an idle keep-alive connection between requests.
 *
 * MQTT over WebSocket (`/mqtt`) shares the server, but an upgraded socket leaves Node's HTTP
 * timers (and `ws` turns the socket's idle timeout off), so none of these applies to it.
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { toProblem, writeRawProblem } from './problem.js';

export interface HttpTimeouts {
  /** The body of a request, counted from its headers' arrival; 0 turns the deadline off. */
  requestTimeoutMs: number;
  /** The request line and headers, counted from the request's first byte. */
  headersTimeoutMs: number;
  /** Nothing received or sent on a connection for this long closes it. */
  idleTimeoutMs: number;
  /** An idle keep-alive connection between two requests. */
  keepAliveTimeoutMs: number;
}

export const defaultHttpTimeouts: Readonly<HttpTimeouts> = Object.freeze({
  /** A JSON body is at most 1 MiB: 30 s is ≥ 35 KB/s, far below any admin client's link. */
  requestTimeoutMs: 30_000,
  /** Headers are at most 16 KiB (Node's maxHeaderSize). */
  headersTimeoutMs: 10_000,
  /** As nginx's client_body_timeout; a firmware upload may stall this long, not longer. */
  idleTimeoutMs: 60_000,
  /**
   * fastify's default, kept on purpose: above the 60 s idle timeout of common load balancers
   * (AWS ALB, nginx upstream keep-alive), so a proxy never reuses a connection we are closing.
   */
  keepAliveTimeoutMs: 72_000,
});

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `'idle'`: once the caller is authenticated, the body is bounded by the idle timeout only,
     * not by `requestTimeoutMs` (for the firmware upload). Default `'request'`.
     */
    bodyTimeout?: 'request' | 'idle';
  }
}

/** The options fastify needs for its own server (`Fastify({ ...fastifyTimeoutOptions(t) })`). */
export function fastifyTimeoutOptions(t: HttpTimeouts) {
  return {
    connectionTimeout: t.idleTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    requestTimeout: 0,
    http: {
      headersTimeout: t.headersTimeoutMs,
      requestTimeout: 0,
      // How often Node checks headersTimeout (default 30 s, which would stretch 10 s to 40 s).
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(t.headersTimeoutMs / 2))),
    },
  };
}

/** The same settings on a server fastify did not create (the HTTPS listener, broker/mqtt/listeners.ts). */
export function applyServerTimeouts(server: HttpServer | HttpsServer, t: HttpTimeouts): void {
  server.requestTimeout = 0;
  server.headersTimeout = t.headersTimeoutMs;
  server.keepAliveTimeout = t.keepAliveTimeoutMs;
  server.setTimeout(t.idleTimeoutMs);
}

/**
 * The per-route body deadline (see the top of this file). At the deadline, a request whose body
 * is still arriving gets a 408 `RequestTimeout` problem (if nothing was answered yet) and its
 * connection is closed; a body fastify is still reading then fails as aborted, unanswered.
 */
export function installRequestDeadline(app: FastifyInstance, t: HttpTimeouts): void {
  const ms = t.requestTimeoutMs;
  if (ms <= 0) return;
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    const hasBody = raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length'] ?? 0) > 0;
    if (hasBody && !raw.complete) {
      const timer = setTimeout(() => {
        if (raw.complete || raw.socket.destroyed) return;
        if (request.routeOptions.config.bodyTimeout === 'idle' && request.token !== undefined) return;
        request.log.info({ requestTimeoutMs: ms }, 'request body not received in time; connection closed');
        if (reply.raw.headersSent) raw.socket.destroy();
        else writeRawProblem(raw.socket, toProblem('RequestTimeout', `the request body did not arrive within ${ms} ms`, request.url));
      }, ms);
      timer.unref();
      const clear = () => clearTimeout(timer);
      raw.once('end', clear);
      raw.once('close', clear);
    }
    done();
  });
}

/**
 * Connections at shutdown. fastify's close() (Node's server.close()) closes the connections that
 * are idle at that moment and waits for the others, and Node keeps a keep-alive connection open
 * for keepAliveTimeout (72 s) after its last response, even once closing: one request in flight
 * at SIGTERM would hold shutdown past any orchestrator's grace period. So, once closing:
 * - a connection is closed as soon as its request has been answered and fully received;
 * - one still receiving the body of a request answered early (a 401 before a large body, which
 *   Node reads and discards) is closed at once: that body is not wanted.
 */
export function installGracefulClose(app: FastifyInstance): void {
  let closing = false;
  const inFlight = new Map<IncomingMessage, ServerResponse>();
  app.addHook('onRequest', (request, reply, done) => {
    const { raw } = request;
    const res = reply.raw;
    inFlight.set(raw, res);
    const closeIfIdle = () => {
      if (closing && res.writableFinished && raw.complete) raw.socket.destroy();
    };
    res.once('finish', closeIfIdle);
    raw.once('end', closeIfIdle);
    raw.once('close', () => inFlight.delete(raw));
    done();
  });
  app.addHook('preClose', (done) => {
    closing = true;
    for (const [raw, res] of inFlight) if (res.writableFinished) raw.socket.destroy();
    done();
  });
}

