import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { isAuthGuard } from './auth.js';
import type { ApiContext } from './context.js';
import { installJsonBodyParser } from './json-body.js';
import { clientErrorHandler, frameworkErrorHandler, installProblemHandlers } from './problem.js';
import { deviceRoutes } from './routes/devices.js';
import { fleetRoutes } from './routes/fleet.js';
import { opsRoutes } from './routes/ops.js';
import { siteRoutes } from './routes/sites.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { tokenRoutes } from './routes/tokens.js';
import { defaultHttpTimeouts, fastifyTimeoutOptions, installGracefulClose, installRequestDeadline, type HttpTimeouts } from './timeouts.js';

/** The router's `maxParamLength`: the longest path parameter any route's schema allows. */
export const MAX_PATH_PARAM_LENGTH = 256;

/** A route plugin of a feature (shadows, firmware, jobs, …), mounted under /api/v1. */
export type ApiPlugin = (app: FastifyInstance, ctx: ApiContext) => Promise<void>;

/**
 * Builds the admin API; does not listen. Features add their routes through `plugins`.
 *
 * Order of work on a request: the body deadline starts (timeouts.ts), then the route's auth guard
 * (`onRequest: guard(…)`, auth.ts) answers 401/403 before any byte of the body is read; only then
 * is the body parsed (json-body.ts: nesting checked before JSON.parse) and validated.
 */
export async function buildHttpApp(
  ctx: ApiContext, log: Logger, plugins: ApiPlugin[] = [], timeouts: HttpTimeouts = defaultHttpTimeouts,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    ...fastifyTimeoutOptions(timeouts),
    clientErrorHandler,
    // The router's own rejections (bad percent-encoding, over-long path parameter) as problem+json.
    frameworkErrors: frameworkErrorHandler,
    // The router's default (100) would answer 414 for device ids of 101–128 characters; 256 is the
    // longest id-like path parameter the schemas allow (idParams, jobParams: 256; template names,
    // device ids, serials: 128; key and claim ids: 64). Measured after percent-decoding.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  installJsonBodyParser(app);
  installRequestDeadline(app, timeouts);
  installGracefulClose(app);
  // A guard in a later hook would let fastify read, parse and validate the body of a caller it
  // has not authenticated (and answer 400 with schema details instead of 401).
  app.addHook('onRoute', (route) => {
    for (const hook of ['preParsing', 'preValidation', 'preHandler'] as const) {
      if ([route[hook]].flat().some(isAuthGuard)) {
        throw new Error(`${String(route.method)} ${route.url}: mount the auth guard as onRequest (onRequest: guard(…)), not ${hook}`);
      }
    }
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Baton admin API', version: '1', description: 'Device registry, telemetry, fleet state. Errors are RFC 9457 problem+json.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(opsRoutes, ctx);
  await app.register(async (api) => {
    await api.register(deviceRoutes, ctx);
    await api.register(siteRoutes, ctx);
    await api.register(tokenRoutes, ctx);
    await api.register(telemetryRoutes, ctx);
    await api.register(fleetRoutes, ctx);
    for (const plugin of plugins) await api.register(async (scoped) => plugin(scoped, ctx));
  }, { prefix: '/api/v1' });
  return app;
}
