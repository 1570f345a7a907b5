/** A Cartesia error frame as the relay error its utterance ends with. */
import { RelayError, type UpstreamRefusal } from '../../../shared/errors.ts';
import type { CartesiaErrorMessage } from './schema.ts';

// Enough of Cartesia's title and message to say what went wrong, without echoing a whole body.
const MAX_DETAIL = 300;

/** The HTTP-style status of an error frame; frames without one are taken for a server error. */
export function upstreamStatus(message: CartesiaErrorMessage): number {
  return message.status_code ?? 500;
}

/**
 * 429 → `upstream_rate_limited` (with `retryAfter` seconds when known), 408/504 → `upstream_timeout`,
 * 503 → `upstream_unavailable`, anything else → `upstream_error`; the message quotes Cartesia's. A 4xx also keeps
 * Cartesia's status, title, message and code (`upstream`), which the Cartesia-compatible ingress passes on.
 */
export function upstreamError(message: CartesiaErrorMessage, retryAfter?: number): RelayError {
  const status = upstreamStatus(message);
  const detail = [message.title, message.message ?? message.error].filter(Boolean).join(': ').slice(0, MAX_DETAIL);
  const text = `Cartesia answered ${status}${message.error_code ? ` (${message.error_code})` : ''}${detail ? `: ${detail}` : ''}.`;
  const upstream = refusalOf(message, status);
  if (status === 429) return new RelayError('upstream_rate_limited', text, { ...(retryAfter !== undefined ? { retryAfter } : {}), ...upstream });
  if (status === 408 || status === 504) return new RelayError('upstream_timeout', text);
  if (status === 503) return new RelayError('upstream_unavailable', text);
  return new RelayError('upstream_error', text, upstream);
}

/** Cartesia's own words for a 4xx (each bounded), or nothing for a server error. */
function refusalOf(message: CartesiaErrorMessage, status: number): { upstream?: UpstreamRefusal } {
  if (status < 400 || status > 499 || status === 408) return {};
  const bounded = (text: string | null | undefined) => text?.slice(0, MAX_DETAIL);
  const title = bounded(message.title);
  const text = bounded(message.message ?? message.error);
  return { upstream: { status, ...(title ? { title } : {}), ...(text ? { message: text } : {}), errorCode: message.error_code ?? null } };
}
