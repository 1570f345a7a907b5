/** A Cartesia error frame as the relay error its utterance ends with. */
import { RelayError } from '../../../shared/errors.ts';
import type { CartesiaErrorMessage } from './schema.ts';

// Enough of Cartesia's title and message to say what went wrong, without echoing a whole body.
const MAX_DETAIL = 300;

/** The HTTP-style status of an error frame; frames without one are taken for a server error. */
export function upstreamStatus(message: CartesiaErrorMessage): number {
  return message.status_code ?? 500;
}

/**
 * 429 → `upstream_rate_limited` (with `retryAfter` seconds when known), 408/504 → `upstream_timeout`,
 * 503 → `upstream_unavailable`, anything else → `upstream_error`; the message quotes Cartesia's.
 */
export function upstreamError(message: CartesiaErrorMessage, retryAfter?: number): RelayError {
  const status = upstreamStatus(message);
  const detail = [message.title, message.message ?? message.error].filter(Boolean).join(': ').slice(0, MAX_DETAIL);
  const text = `Cartesia answered ${status}${message.error_code ? ` (${message.error_code})` : ''}${detail ? `: ${detail}` : ''}.`;
  if (status === 429) return new RelayError('upstream_rate_limited', text, retryAfter !== undefined ? { retryAfter } : {});
  if (status === 408 || status === 504) return new RelayError('upstream_timeout', text);
  if (status === 503) return new RelayError('upstream_unavailable', text);
  return new RelayError('upstream_error', text);
}
