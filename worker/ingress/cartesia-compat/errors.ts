/** Errors as Cartesia's API sends them: the HTTP error object and the WebSocket/SSE error event, both with `request_id`. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { CartesiaServerMessage } from '../../../shared/cartesia-messages.ts';
import { type ErrorCode, RelayError, toRelayError } from '../../../shared/errors.ts';
import type { Env } from '../../runtime/contract.ts';
import type { Logger } from '../../ops/logger.ts';

/** Cartesia's titles: the HTTP reason phrase of the error's status. */
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function cartesiaTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

/** A refusal the relay makes in Cartesia's place, in the title and `error_code` the API reference gives it. */
export class CartesiaWordedError extends RelayError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly cartesia: { title: string; errorCode: string },
  ) {
    super(code, message);
  }
}

/** Past the bound of contexts generating at once: Cartesia's concurrency-limit 429 (API reference, "API Errors"). */
export function concurrencyLimited(message: string): RelayError {
  return new CartesiaWordedError('rate_limited', message, { title: 'Too many concurrent requests', errorCode: 'concurrency_limited' });
}

/** How Cartesia would have put an error: an upstream 4xx in Cartesia's own status and words, else the relay's. */
function asCartesia(error: RelayError): { status: number; title: string; message: string; error_code: string | null } {
  if (error instanceof CartesiaWordedError) return { status: error.status, title: error.cartesia.title, message: error.message, error_code: error.cartesia.errorCode };
  const upstream = error.upstream;
  if (!upstream) return { status: error.status, title: cartesiaTitle(error.status), message: error.message, error_code: error.code };
  return {
    status: upstream.status,
    title: upstream.title ?? cartesiaTitle(upstream.status),
    message: upstream.message ?? error.message,
    error_code: upstream.errorCode ?? null,
  };
}

/** Cartesia's HTTP error object: `{error_code, title, message, request_id}` with the error's status. */
export function cartesiaErrorResponse(c: Context<Env>, error: unknown, logger: Logger): Response {
  const relayError = toRelayError(error);
  if (relayError.code === 'internal_error') logger.error('cartesia request failed', { path: new URL(c.req.url).pathname, error });
  if (relayError.retryAfter !== undefined) c.header('Retry-After', String(Math.ceil(relayError.retryAfter)));
  // A refused WebSocket upgrade may reach the client without its body (Node's adapter drops it): the code rides in a header too.
  c.header('X-Error-Code', relayError.code);
  c.header('Cache-Control', 'no-store');
  const { status, ...shown } = asCartesia(relayError);
  return c.json({ ...shown, request_id: c.get('requestId') }, status as ContentfulStatusCode);
}

/** Cartesia's error event (WebSocket frame, SSE `event: error`): the HTTP object plus type, status_code and done. */
export function errorFrame(error: RelayError, requestId: string, contextId?: string): CartesiaServerMessage {
  const { status, ...shown } = asCartesia(error);
  return { type: 'error', ...(contextId !== undefined ? { context_id: contextId } : {}), status_code: status, ...shown, done: true, request_id: requestId };
}
