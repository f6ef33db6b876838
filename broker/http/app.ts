import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { ApiContext } from './context.js';
import { installProblemHandlers } from './problem.js';
import { deviceRoutes } from './routes/devices.js';
import { fleetRoutes } from './routes/fleet.js';
import { opsRoutes } from './routes/ops.js';
import { siteRoutes } from './routes/sites.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { tokenRoutes } from './routes/tokens.js';

/** A route plugin of a feature (shadows, firmware, jobs, …), mounted under /api/v1. */
export type ApiPlugin = (app: FastifyInstance, ctx: ApiContext) => Promise<void>;

/** Builds the admin API; does not listen. Features add their routes through `plugins`. */
export async function buildHttpApp(ctx: ApiContext, log: Logger, plugins: ApiPlugin[] = []): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);

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
