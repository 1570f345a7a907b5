/** Probes without auth: /healthz says the process answers, /readyz whether it should get traffic. */
import { Hono } from 'hono';
import type { Env } from '../runtime/contract.ts';

/** What the probes read: the instance's readiness and the health of what it depends on. */
export interface HealthSource {
  readonly ready: boolean;
  readonly isWarm: boolean;
  readonly isAccepting: boolean;
  readonly provider: { readonly name: string; healthy(): boolean };
  readonly broker: { readonly name: string; healthy(): boolean };
}

export function healthRoutes(source: HealthSource): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/healthz', (c) => c.json({ status: 'ok', provider: source.provider.name, healthy: source.provider.healthy() }));
  // 503 while the instance warms up at start or drains, or the provider or the broker (Redis) is unreachable, so a balancer sends work elsewhere.
  app.get('/readyz', (c) => {
    const { ready, isWarm, isAccepting, provider, broker } = source;
    const body = {
      ready,
      warm: isWarm,
      accepting: isAccepting,
      provider: provider.name,
      provider_healthy: provider.healthy(),
      hub: broker.name,
      hub_healthy: broker.healthy(),
    };
    return c.json(body, ready ? 200 : 503);
  });
  return app;
}
