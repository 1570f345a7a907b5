/** GET /metrics: the Prometheus text exposition, for the admin key only (app.ts authenticates the request). */
import { Hono } from 'hono';
import type { Env } from '../app.ts';
import { authorize } from '../security/auth.ts';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
import type { Relay } from '../core/relay.ts';

export function metricsRoutes(relay: Relay, runtimeName: string): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/metrics', (c) => {
    authorize(c.get('principal'), 'admin');
    const body = relay.metrics.render({
      listeners: relay.fanout.totalListeners,
      streams: relay.streamCount,
      ready: relay.ready,
      info: { runtime: runtimeName, provider: relay.provider.name },
    });
    return c.body(body, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
  });
  return app;
}
