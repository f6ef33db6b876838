/**
 * The REST edge of firmware, under /api/v1. An upload is the raw image
 * (`Content-Type: application/octet-stream`), streamed to disk as it arrives; the parameters are
 * query parameters, and an offline-signed manifest comes in the `X-Baton-Manifest` header.
 * Errors are problem+json with the catalogue's codes.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BatonError } from '../../device-sdk/protocol/errors.js';
import type { ApiPlugin } from '../http/app.js';
import { idParams, pageOf, problemSchema } from '../http/schemas.js';
import { addKeyBody, firmwareDetailSchema, firmwareSchema, keyIdParams, keyRotationSchema, keySchema, listFirmwareQuery, listKeysQuery, rotateKeyBody, uploadHeaders, uploadQuery } from './http-schemas.js';
import type { KeyService } from './keys.js';
import type { FirmwareService } from './service.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
const tags = ['firmware'];

/** RFC 7515 §9.2.1: the media type of a compact JWS. */
const JOSE = 'application/jose';

/**
 * The request body behind a stream of its own. A refused upload destroys the stream it was
 * reading (stream.pipeline does); destroying the request itself would reset the connection before
 * the problem response is sent. Detached, the request is left to Node, which discards the rest of
 * the body and answers.
 */
function detached(body: Readable): Readable {
  const image = new PassThrough();
  body.pipe(image);
  image.once('close', () => {
    body.unpipe(image);
    if (!body.readableEnded) body.resume();
  });
  return image;
}

/**
 * An upload answered before its body was read (a 400 from the query schema, a 401/403, a 413 from
 * Content-Length) must not leave that body unread: fastify has handed the stream to the route, so
 * Node does not discard it as it does for other routes, the socket stays paused once its buffers
 * fill (≥ 256 KiB) and the next request on that keep-alive connection is never answered. A body
 * of at most `maxBytes` declared bytes is discarded as it arrives (the connection stays usable); a
 * larger or chunked one is not worth receiving: the answer says `Connection: close` and Node
 * closes the connection after it (the client reconnects).
 */
function discardUnreadBody(raw: IncomingMessage, reply: FastifyReply, maxBytes: number): void {
  if (raw.complete || raw.destroyed) return;
  const declared = raw.headers['content-length'] === undefined ? Number.NaN : Number(raw.headers['content-length']);
  if (!(declared <= maxBytes)) reply.header('connection', 'close');
  // A stream it was piped to (`detached`) and nobody reads would hold it paused.
  raw.unpipe();
  raw.resume();
}

export function firmwareRoutes({ firmware, keys, maxBytes }: { firmware: FirmwareService; keys: KeyService; maxBytes: number }): ApiPlugin {
  return async (plain, { guard }) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    // The image stays a stream: the upload handler pipes it to disk (fastify would buffer it).
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    app.post('/firmware', {
      // Authenticated before the body is read: no byte of an unauthenticated upload reaches disk.
      onRequest: guard('write'),
      bodyLimit: maxBytes,
      // Up to 1 GiB on a slow link: bounded by the idle timeout, not the request deadline (broker/http/timeouts.ts).
      config: { bodyTimeout: 'idle' },
      onSend: (req, reply, payload, done) => {
        discardUnreadBody(req.raw, reply, maxBytes);
        done(null, payload);
      },
      schema: {
        tags,
        summary: 'Upload an image (raw body); the server signs its manifest, or verifies the one in X-Baton-Manifest',
        querystring: uploadQuery, headers: uploadHeaders,
        response: { 200: firmwareSchema, 201: firmwareSchema, ...errors, 409: problemSchema, 413: problemSchema },
      },
    }, async (req, reply) => {
      if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw new BatonError('PayloadTooLarge', `Images are limited to ${maxBytes} bytes.`);
      if (!(req.body instanceof Readable)) throw new BatonError('InvalidRequest', 'Send the image as Content-Type: application/octet-stream.');
      const image = detached(req.body);
      let result: Awaited<ReturnType<FirmwareService['upload']>>;
      try {
        result = await firmware.upload(image, req.query, req.headers['x-baton-manifest']);
      } catch (err) {
        // Refused before (or while) the image was read, e.g. no deviceClass: nobody reads `image`
        // any more; destroying it lets the request body go (`detached`).
        image.destroy();
        throw err;
      }
      const { created, firmware: f } = result;
      return reply.code(created ? 201 : 200).header('location', `/api/v1/firmware/${f.id}`).send(f);
    });

    app.get('/firmware', {
      onRequest: guard('read'),
      schema: { tags, summary: 'List firmware, by id, optionally of one device class', querystring: listFirmwareQuery, response: { 200: pageOf(firmwareSchema), ...errors } },
    }, async (req) => firmware.list(req.query));

    app.get('/firmware/:id', {
      onRequest: guard('read'),
      schema: { tags, summary: 'A firmware: its manifest and status', params: idParams, response: { 200: firmwareDetailSchema, ...errors } },
    }, async (req) => firmware.get(req.params.id));

    app.get('/firmware/:id/manifest', {
      onRequest: guard('read'),
      schema: { tags, summary: 'The signed manifest: the exact compact JWS bytes devices verify', params: idParams, response: { 200: z.string(), ...errors } },
    }, async (req, reply) => reply.type(JOSE).send(await firmware.signedManifest(req.params.id)));

    app.delete('/firmware/:id', {
      onRequest: guard('write'),
      schema: { tags, summary: 'Delete a firmware (refused with InUse while a job uses it)', params: idParams, response: { 204: z.null(), ...errors, 409: problemSchema } },
    }, async (req, reply) => {
      await firmware.delete(req.params.id);
      return reply.code(204).send(null);
    });

    app.get('/firmware/keys', {
      onRequest: guard('read'),
      schema: { tags, summary: 'Trusted signing public keys, for devices to pin', querystring: listKeysQuery, response: { 200: z.object({ items: z.array(keySchema) }), ...errors } },
    }, async (req) => ({ items: keys.list(req.query.includeRetired === 'true') }));

    app.post('/firmware/keys', {
      onRequest: guard('admin'),
      schema: { tags, summary: 'Trust an offline signing key (public key only)', body: addKeyBody, response: { 200: keySchema, 201: keySchema, ...errors, 409: problemSchema } },
    }, async (req, reply) => {
      const { created, key } = await keys.add(req.body);
      return reply.code(created ? 201 : 200).send(key);
    });

    app.post('/firmware/keys/rotate', {
      onRequest: guard('admin'),
      schema: {
        tags,
        summary: "Rotate the broker's signing key: a new key signs from now on; the old one retires once what it signed has expired",
        body: rotateKeyBody,
        response: { 201: keyRotationSchema, ...errors },
      },
    }, async (req, reply) => reply.code(201).send(await keys.rotate(req.body.algorithm)));

    app.delete('/firmware/keys/:keyId', {
      onRequest: guard('admin'),
      schema: { tags, summary: 'Retire a signing key: manifests it signs are refused from now on', params: keyIdParams, response: { 200: keySchema, ...errors } },
    }, async (req) => keys.retire(req.params.keyId));
  };
}
