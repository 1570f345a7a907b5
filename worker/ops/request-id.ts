/**
 * A request id per request: the caller's `X-Request-Id` when it is a sane one, else a new UUID; kept for the
 * handlers (`requestId`) and sent back in the response's `X-Request-Id`. The header goes on once the response
 * exists, like the security headers: set before the handler, it makes Hono build a Headers object for every
 * response ahead of the handler's own work (a speak request's provider write among it).
 */
import type { MiddlewareHandler } from 'hono';

const HEADER = 'X-Request-Id';
// Hono's requestId rules: at most 255 characters of [A-Za-z0-9_=-].
const MAX_LENGTH = 255;
const UNSAFE = /[^\w\-=]/;

export function requestId(): MiddlewareHandler<{ Variables: { requestId: string } }> {
  return async (c, next) => {
    const offered = c.req.header(HEADER);
    const id = offered && offered.length <= MAX_LENGTH && !UNSAFE.test(offered) ? offered : crypto.randomUUID();
    c.set('requestId', id);
    await next();
    c.res.headers.set(HEADER, id);
  };
}
