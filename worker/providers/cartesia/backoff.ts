/**
 * When the pool may open a new Cartesia socket or start a new context: exponential backoff with jitter after
 * failed connects and drops, Retry-After on a refused upgrade, and a cool-down after a context's 429.
 */
import { RelayError } from '../../../shared/errors.ts';
import type { SocketClosed } from './sdk.ts';

export interface BackoffSettings {
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Hold-off after a 429 error frame, which has no Retry-After. */
  rateLimitCooldownMs: number;
}

/** Exponential backoff with full jitter on the upper half: base·2^(failures-1), capped, times 0.5–1. */
export function backoffDelay(failures: number, settings: BackoffSettings, random: () => number): number {
  const exponent = Math.max(0, failures - 1);
  const ceiling = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** exponent);
  return ceiling * (0.5 + random() / 2);
}

/** A failed connect as the relay error it maps to: 401/403 credentials, other statuses, network failures. */
export function refusalError(info: SocketClosed): RelayError {
  const status = info.upgradeStatus;
  // A 4xx keeps Cartesia's status for the Cartesia-compatible ingress to pass on.
  const upstream = status !== undefined && status >= 400 && status < 500 ? { upstream: { status } } : {};
  if (status === 401 || status === 403) {
    return new RelayError('upstream_error', `Cartesia refused the credentials (HTTP ${status}); check CARTESIA_API_KEY.`, upstream);
  }
  if (status !== undefined) {
    return new RelayError(status >= 500 ? 'upstream_unavailable' : 'upstream_error', `Cartesia refused the connection (HTTP ${status}).`, upstream);
  }
  return new RelayError('upstream_unavailable', `Cannot connect to Cartesia${info.error ? `: ${info.error}` : ''}.`);
}

export function rateLimitError(waitMs: number): RelayError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new RelayError('upstream_rate_limited', `Cartesia is rate limiting; retry in ${seconds} s.`, { retryAfter: seconds });
}

/** The backoff state of one pool, on its clock. */
export class UpstreamBackoff {
  /** Consecutive failed connects or drops; reset by a socket that opens. */
  private failures = 0;
  /** No new socket before this clock reading (backoff or Retry-After), failing contexts with `blockedBy`. */
  private blockedUntil = 0;
  private blockedBy: RelayError | null = null;
  /** No new context before this clock reading: Cartesia answered a context with 429. */
  private heldUntil = 0;

  constructor(
    private readonly settings: BackoffSettings,
    private readonly now: () => number,
    private readonly random: () => number,
  ) {}

  /** Nothing has failed since the last socket opened. */
  get clean(): boolean {
    return this.failures === 0 && this.blockedBy === null;
  }

  /** Why new sockets are held back, if they are. */
  get lastError(): RelayError | null {
    return this.blockedBy;
  }

  /** Milliseconds before a new socket may be opened (≤ 0: now). */
  blockedFor(): number {
    return this.blockedUntil - this.now();
  }

  /** Milliseconds before a new context may start (≤ 0: now). */
  heldFor(): number {
    return this.heldUntil - this.now();
  }

  /** A socket opened: the slate is clean. */
  opened(): void {
    this.failures = 0;
    this.blockedUntil = 0;
    this.blockedBy = null;
  }

  /** An open socket dropped with contexts on it; returns the delay before the next socket. */
  dropped(): number {
    this.failures += 1;
    const delay = backoffDelay(this.failures, this.settings, this.random);
    this.block(delay, new RelayError('upstream_unavailable', 'The connection to Cartesia dropped; reconnecting.'));
    return delay;
  }

  /** A connect failed; returns the error it maps to, and holds new sockets back by Retry-After or backoff. */
  refused(info: SocketClosed): RelayError {
    this.failures += 1;
    const retryAfterMs = info.retryAfterSeconds !== undefined ? info.retryAfterSeconds * 1000 : undefined;
    const waitMs = retryAfterMs ?? backoffDelay(this.failures, this.settings, this.random);
    const error = info.upgradeStatus === 429 ? rateLimitError(waitMs) : refusalError(info);
    this.block(waitMs, error);
    return error;
  }

  /** A 429 error frame: new contexts wait `rateLimitCooldownMs` (the frame has no Retry-After). */
  contextRateLimited(): RelayError {
    const waitMs = this.settings.rateLimitCooldownMs;
    this.heldUntil = Math.max(this.heldUntil, this.now() + waitMs);
    return rateLimitError(waitMs);
  }

  /** The error for a context that cannot wait `waitMs` for the block to end. */
  blockedError(waitMs: number): RelayError {
    const blocked = this.blockedBy ?? new RelayError('upstream_unavailable', 'Cartesia cannot be reached right now.');
    return blocked.code === 'upstream_rate_limited' ? rateLimitError(waitMs) : blocked;
  }

  private block(waitMs: number, error: RelayError): void {
    const until = this.now() + waitMs;
    if (until > this.blockedUntil || this.blockedBy === null) {
      this.blockedUntil = until;
      this.blockedBy = error;
    }
  }
}
