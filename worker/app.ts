/** The relay's HTTP and WebSocket routes, built by a factory that receives whatever differs per runtime. */
import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { RelayError, toRelayError } from '../shared/errors.ts';
import { accessLog } from './ops/access-log.ts';
import { requestId } from './ops/request-id.ts';
import { requireAuth } from './security/auth.ts';
import { ConnectionLimiter, guardWebSockets } from './security/connection-limit.ts';
import type { Relay } from './core/relay.ts';
import { healthRoutes } from './ops/health-routes.ts';
import { metricsRoutes } from './ops/metrics-routes.ts';
import { playerRoutes } from './player/player-routes.ts';
import { cartesiaCompatRoutes } from './ingress/cartesia-compat/routes.ts';
import { catalogRoutes } from './ingress/catalog-routes.ts';
import type { IngressContext } from './ingress/context.ts';
import { streamRoutes } from './ingress/stream-routes.ts';
import { tokenRoutes } from './security/token-routes.ts';
import { keyRoutes } from './security/key-routes.ts';
import type { Env, RuntimeAdapter } from './runtime/contract.ts';

export function createApp(relay: Relay, runtimeAdapter: RuntimeAdapter): Hono<Env> {
  const app = new Hono<Env>();
  const { limits } = relay.config;
  const connections = new ConnectionLimiter(limits);
  // Every route upgrades through this: sockets hold a connection slot and client frames are size-checked.
  const runtime = guardWebSockets(runtimeAdapter, connections, limits.maxFrameBytes);

  app.use('*', requestId());
  app.use('*', accessLog(relay.logger, relay.metrics));
  app.use('*', secureHeaders());
  if (relay.config.corsOrigins.length > 0) {
    const origins = relay.config.corsOrigins;
    app.use('*', cors({
      origin: origins.includes('*') ? '*' : origins,
      allowHeaders: ['Authorization', 'Content-Type'],
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT'],
      exposeHeaders: ['X-Error-Code', 'Retry-After', 'X-Request-Id'],
      maxAge: 600,
    }));
  }
  app.onError((error, c) => errorResponse(c, relay, error));
  app.notFound((c) => errorResponse(c, relay, new RelayError('not_found', `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`)));

  app.route('/', healthRoutes(relay));
  // Static and public: the page asks for a token and keeps it in the URL fragment.
  app.route('/', playerRoutes());

  app.use('*', connections.middleware(runtime.clientAddress));
  app.use('/v1/*', requireAuth(relay.auth));
  app.use('/metrics', requireAuth(relay.auth, 'admin'));
  app.route('/', metricsRoutes(relay, runtime.name ?? 'unknown'));

  app.route('/v1/tokens', tokenRoutes(relay.auth.tokens, relay.logger));
  app.route('/v1/keys', keyRoutes(relay.auth.apiKeys, relay.logger));
  const ingress = ingressContext(relay);
  // Before the stream routes, which would take /v1/streams for a stream name.
  app.route('/', catalogRoutes(ingress));
  app.route('/v1/streams', streamRoutes(ingress, runtime));
  // Outside /v1: it authenticates the ways Cartesia's SDKs do (X-API-Key, ?api_key=, ?access_token=) itself.
  app.route('/', cartesiaCompatRoutes({ ...ingress, synthesizer: relay.provider, audioHeld: (delta) => relay.metrics.audioHeld(delta) }, runtime));

  return app;
}

/** The part of the relay the ingress routes may use. */
function ingressContext(relay: Relay): IngressContext {
  return {
    limits: relay.config.limits,
    directory: relay.directory,
    listeners: relay.listeners,
    played: relay.played,
    outcomes: relay.outcomes,
    events: relay.broker,
    sourceFormat: relay.provider.preferredFormat,
    provider: relay.provider,
    auth: relay.auth,
    logger: relay.logger,
    now: relay.now,
    clock: relay.clock,
  };
}

function errorResponse(c: Context, relay: Relay, error: unknown): Response {
  const relayError = toRelayError(error);
  if (relayError.code === 'internal_error') relay.logger.error('request failed', { path: new URL(c.req.url).pathname, error });
  if (relayError.retryAfter !== undefined) c.header('Retry-After', String(Math.ceil(relayError.retryAfter)));
  // A refused WebSocket upgrade may reach the client without its body (Node's adapter drops it): the code rides in a header too.
  c.header('X-Error-Code', relayError.code);
  return c.json(relayError.toJSON(), relayError.status);
}

