/** GET /metrics: the Prometheus text exposition, for the admin key only (app.ts authenticates the request). */
import { Hono } from 'hono';
import type { Env } from '../runtime/contract.ts';
import { authorize } from '../security/auth.ts';
import { type Metrics, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';

/** What the exposition reads besides the counters: the instance's gauges. */
export interface MetricsSource {
  readonly metrics: Metrics;
  readonly listenerCount: number;
  readonly streamCount: number;
  readonly ready: boolean;
  readonly provider: { readonly name: string };
}

export function metricsRoutes(source: MetricsSource, runtimeName: string): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/metrics', (c) => {
    authorize(c.get('principal'), 'admin');
    const body = source.metrics.render({
      listeners: source.listenerCount,
      streams: source.streamCount,
      ready: source.ready,
      info: { runtime: runtimeName, provider: source.provider.name },
    });
    return c.body(body, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
  });
  return app;
}
