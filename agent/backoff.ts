/** Exponential backoff with full jitter (AWS architecture blog): spreads reconnects of many agents after a relay restart. */

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  random?: () => number;
}

/** 250 ms is quick enough to feel instant after a blip; 10 s caps the wait while a relay is down. */
export const RECONNECT_INITIAL_MS = 250;
export const RECONNECT_MAX_MS = 10_000;

export class Backoff {
  #attempt = 0;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? RECONNECT_INITIAL_MS;
    this.#maxMs = options.maxMs ?? RECONNECT_MAX_MS;
    this.#random = options.random ?? Math.random;
  }

  /** The next delay: uniform in [0, min(max, initial * 2^attempt)). */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return Math.round(this.#random() * ceiling);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
