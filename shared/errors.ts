/** Stable error codes shared by the relay, the agent and the tests: one table, three mappings. */

export const ERRORS = {
  bad_request: { status: 400, close: 4400, message: 'The request is malformed.' },
  empty_text: { status: 400, close: 4400, message: 'The text is empty.' },
  invalid_utf8: { status: 400, close: 4400, message: 'The body is not valid UTF-8 text.' },
  invalid_json: { status: 400, close: 4400, message: 'The body is not valid JSON.' },
  invalid_ndjson: { status: 400, close: 4400, message: 'A line of the NDJSON body is not a valid JSON object.' },
  invalid_sse: { status: 400, close: 4400, message: 'The event stream could not be parsed.' },
  invalid_message: { status: 400, close: 4400, message: 'The WebSocket message does not match the protocol.' },
  unsupported_encoding: { status: 400, close: 4400, message: 'Unknown encoding; use pcm_f32le, pcm_s16le, pcm_mulaw or pcm_alaw.' },
  unsupported_sample_rate: { status: 400, close: 4400, message: 'Unsupported sample rate; use 8000, 16000, 22050, 24000, 44100 or 48000.' },
  invalid_stream_name: { status: 400, close: 4400, message: 'Stream names are 1-128 characters of A-Z a-z 0-9 . _ - and /, not starting with / or a dot, with no empty or .. segment, not ending in /speak, /cancel, /listen or /publish.' },
  unknown_voice: { status: 400, close: 4400, message: 'The provider has no such voice; GET /v1/voices lists them.' },
  unsupported_media_type: { status: 415, close: 4400, message: 'Unsupported Content-Type; send text/plain, application/json, application/x-ndjson or text/event-stream.' },
  unauthorized: { status: 401, close: 4401, message: 'Missing or invalid credentials: send Authorization: Bearer <key or token>.' },
  token_expired: { status: 401, close: 4401, message: 'The token has expired; mint a new one.' },
  token_invalid: { status: 401, close: 4401, message: 'The token is malformed or its signature does not verify.' },
  token_not_yet_valid: { status: 401, close: 4401, message: 'The token is not valid yet.' },
  forbidden: { status: 403, close: 4403, message: 'The credentials do not allow this action on this stream.' },
  not_found: { status: 404, close: 4404, message: 'No such route.' },
  method_not_allowed: { status: 405, close: 4400, message: 'This route does not take that method.' },
  stream_not_found: { status: 404, close: 4404, message: 'No such stream.' },
  utterance_not_found: { status: 404, close: 4404, message: 'No such utterance.' },
  payload_too_large: { status: 413, close: 1009, message: 'The body or message is larger than the limit.' },
  text_too_long: { status: 413, close: 1009, message: 'The utterance has more characters than the limit.' },
  upload_timeout: { status: 408, close: 4408, message: 'The upload sent nothing for too long; send at least a byte (a space, an SSE comment) to keep a quiet upload alive.' },
  queue_full: { status: 429, close: 4429, message: 'The stream queue is full; retry later.' },
  rate_limited: { status: 429, close: 4429, message: 'Too many requests; retry after the time in Retry-After.' },
  too_many_connections: { status: 429, close: 4429, message: 'Too many open connections from this address or to this relay; close some or retry later.' },
  too_many_listeners: { status: 429, close: 4429, message: 'The stream has as many listeners as allowed.' },
  too_many_streams: { status: 429, close: 4429, message: 'The relay has as many streams as allowed.' },
  slow_listener: { status: 429, close: 4008, message: 'The listener did not keep up with real-time audio and was disconnected.' },
  upstream_rate_limited: { status: 429, close: 4429, message: 'The TTS provider is rate limiting; retry later.' },
  upstream_error: { status: 502, close: 1011, message: 'The TTS provider failed.' },
  upstream_unavailable: { status: 503, close: 1013, message: 'The TTS provider cannot be reached.' },
  upstream_timeout: { status: 504, close: 1011, message: 'The TTS provider stopped answering.' },
  hub_unavailable: { status: 503, close: 1013, message: 'This relay instance cannot reach Redis, which joins the instances; retry, or use another instance.' },
  instance_lost: { status: 503, close: 1011, message: 'The relay instance speaking this utterance stopped; the queue goes on from another instance.' },
  shutting_down: { status: 503, close: 1001, message: 'The relay is shutting down; reconnect elsewhere.' },
  internal_error: { status: 500, close: 1011, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; close: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** The one error type of the relay: a stable code, a human message, an HTTP status and a close code. */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly closeCode: number;
  /** Seconds a client should wait before retrying, when the error is retryable. */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.closeCode = ERRORS[code].close;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Any thrown value as a RelayError; unknown failures become `internal_error` without leaking their text. */
export function toRelayError(err: unknown, fallback: ErrorCode = 'internal_error'): RelayError {
  if (err instanceof RelayError) return err;
  return new RelayError(fallback, undefined, { cause: err });
}
