/** Probes without auth: /healthz says the process answers, /readyz whether it should get traffic. */
import { Hono } from 'hono';
import type { Env } from '../app.ts';
import type { Relay } from '../core/relay.ts';

export function healthRoutes(relay: Relay): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/healthz', (c) => c.json({ status: 'ok', provider: relay.provider.name, healthy: relay.provider.healthy() }));
  // 503 while the provider or the hub (Redis) is unreachable or the instance is draining, so a balancer sends work elsewhere.
  app.get('/readyz', (c) => {
    const body = {
      ready: relay.ready,
      accepting: relay.isAccepting,
      provider: relay.provider.name,
      provider_healthy: relay.provider.healthy(),
      hub: relay.hub.name,
      hub_healthy: relay.hub.healthy(),
    };
    return c.json(body, relay.ready ? 200 : 503);
  });
  return app;
}
