/**
 * Stable error codes shared by the relay, the agent and the tests: one table, with each code's HTTP status,
 * WebSocket close code, retry rule and default message. Clients derive what to retry from it.
 */

/** The HTTP client and server error statuses (RFC 9110) an error may answer with. */
export type HttpErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 501 | 502 | 503 | 504;

interface ErrorSpec {
  status: HttpErrorStatus;
  /** WebSocket close code: 4000 + the HTTP status where no standard code fits. */
  close: number;
  /**
   * Whether the same request may succeed later (livekit's `APIError.retryable`): 408, 429 and 5xx are, other
   * 4xx are not, since the request itself is what the relay refused.
   */
  retryable: boolean;
  /**
   * An utterance whose provider context failed with this code goes on in a new context (the connection died
   * or went silent; the same text would work again) rather than ending with the error.
   */
  resume?: true;
  message: string;
}


export const ERRORS = {
  bad_request: { status: 400, close: 4400, retryable: false, message: 'The request is malformed.' },
  empty_text: { status: 400, close: 4400, retryable: false, message: 'The text is empty.' },
  invalid_utf8: { status: 400, close: 4400, retryable: false, message: 'The body is not valid UTF-8 text.' },
  invalid_json: { status: 400, close: 4400, retryable: false, message: 'The body is not valid JSON.' },
  invalid_ndjson: { status: 400, close: 4400, retryable: false, message: 'A line of the NDJSON body is not a valid JSON object.' },
  invalid_sse: { status: 400, close: 4400, retryable: false, message: 'The event stream could not be parsed.' },
  invalid_message: { status: 400, close: 4400, retryable: false, message: 'The WebSocket message does not match the protocol.' },
  unsupported_encoding: { status: 400, close: 4400, retryable: false, message: 'Unknown encoding; use pcm_f32le, pcm_s16le, pcm_mulaw or pcm_alaw.' },
  unsupported_sample_rate: { status: 400, close: 4400, retryable: false, message: 'Unsupported sample rate; use 8000, 16000, 22050, 24000, 44100 or 48000.' },
  invalid_stream_name: { status: 400, close: 4400, retryable: false, message: 'Stream names are 1-128 characters of A-Z a-z 0-9 . _ - and /, not starting with / or a dot, with no empty or .. segment, not ending in /speak, /cancel, /listen or /publish.' },
  unknown_voice: { status: 400, close: 4400, retryable: false, message: 'The provider has no such voice; GET /v1/voices lists them.' },
  unsupported_media_type: { status: 415, close: 4400, retryable: false, message: 'Unsupported Content-Type; send text/plain, application/json, application/x-ndjson or text/event-stream.' },
  unauthorized: { status: 401, close: 4401, retryable: false, message: 'Missing or invalid credentials: send Authorization: Bearer <key or token>.' },
  token_expired: { status: 401, close: 4401, retryable: false, message: 'The token has expired; mint a new one.' },
  token_invalid: { status: 401, close: 4401, retryable: false, message: 'The token is malformed or its signature does not verify.' },
  token_not_yet_valid: { status: 401, close: 4401, retryable: false, message: 'The token is not valid yet.' },
  forbidden: { status: 403, close: 4403, retryable: false, message: 'The credentials do not allow this action on this stream.' },
  not_found: { status: 404, close: 4404, retryable: false, message: 'No such route.' },
  method_not_allowed: { status: 405, close: 4400, retryable: false, message: 'This route does not take that method.' },
  stream_not_found: { status: 404, close: 4404, retryable: false, message: 'No such stream.' },
  utterance_not_found: { status: 404, close: 4404, retryable: false, message: 'No such utterance.' },
  payload_too_large: { status: 413, close: 1009, retryable: false, message: 'The body or message is larger than the limit.' },
  text_too_long: { status: 413, close: 1009, retryable: false, message: 'The utterance has more characters than the limit.' },
  upload_timeout: { status: 408, close: 4408, retryable: true, message: 'The upload sent nothing for too long; send at least a byte (a space, an SSE comment) to keep a quiet upload alive.' },
  rate_limited: { status: 429, close: 4429, retryable: true, message: 'Too many requests; retry after the time in Retry-After.' },
  queue_full: { status: 429, close: 4429, retryable: true, message: 'The stream queue is full; retry later.' },
  too_many_connections: { status: 429, close: 4429, retryable: true, message: 'Too many open connections from this address or to this relay; close some or retry later.' },
  too_many_listeners: { status: 429, close: 4429, retryable: true, message: 'The stream has as many listeners as allowed.' },
  too_many_streams: { status: 429, close: 4429, retryable: true, message: 'The relay has as many streams as allowed.' },
  slow_listener: { status: 429, close: 4008, retryable: true, message: 'The listener did not keep up with real-time audio and was disconnected.' },
  upstream_rate_limited: { status: 429, close: 4429, retryable: true, message: 'The TTS provider is rate limiting; retry later.' },
  upstream_error: { status: 502, close: 1011, retryable: true, message: 'The TTS provider failed.' },
  upstream_unavailable: { status: 503, close: 1013, retryable: true, resume: true, message: 'The TTS provider cannot be reached.' },
  upstream_timeout: { status: 504, close: 1011, retryable: true, resume: true, message: 'The TTS provider stopped answering.' },
  hub_unavailable: { status: 503, close: 1013, retryable: true, message: 'This relay instance cannot reach Redis, which joins the instances; retry, or use another instance.' },
  instance_lost: { status: 503, close: 1011, retryable: true, message: 'The relay instance speaking this utterance stopped; the queue goes on from another instance.' },
  shutting_down: { status: 503, close: 1001, retryable: true, message: 'The relay is shutting down; reconnect elsewhere.' },
  internal_error: { status: 500, close: 1011, retryable: true, message: 'Internal error.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];
/** The statuses the table uses. */
export type ErrorStatus = (typeof ERRORS)[ErrorCode]['status'];

/** A code with its message, as error bodies and protocol frames carry it. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/** Just the code and message of an error, for a body or a frame. */
export function errorInfo(error: ErrorInfo): ErrorInfo {
  return { code: error.code, message: error.message };
}

// The WebSocket application range (RFC 6455 §7.4.2): codes below it also come from the transport itself.
const APPLICATION_CLOSE_CODES = { min: 4000, max: 4999 };

/** The values of `field` for which no code in the table is retryable. */
function finalValues(field: 'status' | 'close'): ReadonlySet<number> {
  const retryable = new Set<number>(ERROR_CODES.filter((code) => ERRORS[code].retryable).map((code) => ERRORS[code][field]));
  return new Set(ERROR_CODES.map((code) => ERRORS[code][field]).filter((value) => !retryable.has(value)));
}

const FINAL_STATUSES = finalValues('status');
const FINAL_CLOSE_CODES = new Set([...finalValues('close')].filter((close) => close >= APPLICATION_CLOSE_CODES.min && close <= APPLICATION_CLOSE_CODES.max));

/** Whether a refusal with this HTTP status is worth retrying: statuses the table does not know are. */
export function isRetryableStatus(status: number): boolean {
  return !FINAL_STATUSES.has(status);
}

/**
 * Whether a socket closed with this code is worth reopening. Only the relay's own codes (4000–4999) can be
 * final; standard codes (1000–3999) also come from the transport, whatever the table maps to them.
 */
export function isRetryableClose(close: number): boolean {
  return !FINAL_CLOSE_CODES.has(close);
}

/** The code a bare status or close code stands for when no body or reason names one: the first in the table. */
export function codeForStatus(status: number): ErrorCode | undefined {
  return ERROR_CODES.find((code) => ERRORS[code].status === status);
}

export function codeForClose(close: number): ErrorCode | undefined {
  return ERROR_CODES.find((code) => ERRORS[code].close === close);
}

/** Whether an utterance whose provider context failed with this code goes on in a new context. */
export function isResumable(code: ErrorCode): boolean {
  const entry: ErrorSpec = ERRORS[code];
  return entry.resume === true;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** What an upstream provider (Cartesia) answered when it refused a request: the Cartesia-compatible ingress passes it on. */
export interface UpstreamRefusal {
  status: number;
  title?: string;
  message?: string;
  errorCode?: string | null;
}

/** The one error type of the relay: a stable code, a human message, an HTTP status and a close code. */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly closeCode: number;
  /** Seconds a client should wait before retrying, when the error is retryable. */
  readonly retryAfter?: number;
  /** The provider's own refusal (a 4xx), when the error is one: kept for clients of the provider's API. */
  readonly upstream?: UpstreamRefusal;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfter?: number; upstream?: UpstreamRefusal }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.closeCode = ERRORS[code].close;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options?.upstream !== undefined) this.upstream = options.upstream;
  }

  toJSON(): ErrorBody {
    return { error: errorInfo(this) };
  }
}

export interface ErrorBody {
  error: ErrorInfo;
}

/** Any thrown value as a RelayError; unknown failures become `internal_error` without leaking their text. */
export function toRelayError(err: unknown, fallback: ErrorCode = 'internal_error'): RelayError {
  if (err instanceof RelayError) return err;
  return new RelayError(fallback, undefined, { cause: err });
}
