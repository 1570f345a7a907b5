/** One structured log line and one metrics count per HTTP request. */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * Logs method, path, status, duration and request id when the response is ready (for a streaming
 * speak, when the upload ended). The path never carries the query string: WebSocket clients put
 * tokens there.
 */
export function accessLog(logger: Logger, metrics: Metrics): MiddlewareHandler<{ Variables: { requestId: string } }> {
  return async (c, next) => {
    const started = performance.now();
    // Read before the handler runs: Deno closes the request once a WebSocket upgrade took it over.
    const { method, path } = c.req;
    const upgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    await next();
    const status = upgrade && c.res.status < 300 ? 101 : c.res.status;
    metrics.requestAnswered(method, status);
    logger.info('request', {
      request_id: c.get('requestId'),
      method,
      path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };
}
