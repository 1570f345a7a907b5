// @ts-check
/**
 * The relay clock as a listener estimates it, NTP-style, from `clock_ping`/`clock_pong` exchanges over the listen
 * socket (shared/protocol.ts). Exchanges with the least round trip carry the least queueing, so the least asymmetry:
 * the offset is the median of the fastest quarter of recent exchanges, the rest dropped.
 *
 * Plain JavaScript (types in JSDoc) so that one estimator runs in the agent and, unbuilt, in the browser player
 * (the relay serves this file at /shared/clock-estimator.js, where client.js's relative import finds it).
 */

/** Exchanges kept, and how old one may be: long enough to ride out a jittery spell, short enough to follow drift. */
const WINDOW_SAMPLES = 64;
const WINDOW_MS = 60_000;
/** Pings at connect (to have an estimate before the first audio), then one every PING_INTERVAL_MS. */
export const BURST_PINGS = 8;
export const BURST_INTERVAL_MS = 60;
export const PING_INTERVAL_MS = 1000;

/**
 * The Unix-epoch time at `performance.now()` zero, read off the wall clock now to a few microseconds: the moment
 * `Date.now()` ticks over is caught between two monotonic readings, best of `tries`. `performance.timeOrigin` pairs two
 * clock reads made at process start, and a busy host that preempts its process between them leaves it milliseconds
 * off; anchored this way, every process on one host starts on the same clock.
 * @param {number} [tries]
 */
export function wallClockOrigin(tries = 5) {
  let best = { width: Infinity, origin: performance.timeOrigin };
  for (let i = 0; i < tries; i++) {
    const tick = Date.now();
    let before = performance.now();
    let wall = Date.now();
    while (wall === tick) {
      before = performance.now();
      wall = Date.now();
    }
    const after = performance.now();
    if (after - before < best.width) best = { width: after - before, origin: wall - (before + after) / 2 };
  }
  return best.origin;
}

/** Where this process's epoch clock starts: anchored once, then read monotonically. */
export const EPOCH_ORIGIN = wallClockOrigin();

/** The listener's own clock: epoch-like milliseconds, monotonic (a wall clock may step; this never does). */
export function localClock() {
  return EPOCH_ORIGIN + performance.now();
}

/**
 * @typedef {object} ClockExchange
 * @property {number} t0 local clock when the ping left
 * @property {number} t1 relay clock when the ping arrived
 * @property {number} t2 relay clock when the pong left
 * @property {number} t3 local clock when the pong arrived
 */

/**
 * @typedef {object} ClockEstimate
 * @property {number} offsetMs relay clock − local clock, in ms
 * @property {number} uncertaintyMs half the fastest round trip plus the spread of the exchanges trusted: the offset is within this
 * @property {number} rttMs the fastest round trip in the window
 * @property {number} samples exchanges in the window
 * @property {number} used how many of them the estimate rests on
 */

export class ClockEstimator {
  constructor() {
    /** @type {Array<ClockExchange & { delay: number, offset: number }>} */
    this.exchanges = [];
    /** @type {ClockEstimate | null} */
    this.cached = null;
  }

  /** Takes in one exchange; one with a negative round trip (a clock step mid-flight) is dropped. @param {ClockExchange} exchange */
  add(exchange) {
    const delay = exchange.t3 - exchange.t0 - (exchange.t2 - exchange.t1);
    if (!(delay >= 0) || !Number.isFinite(delay)) return;
    const offset = (exchange.t1 - exchange.t0 + (exchange.t2 - exchange.t3)) / 2;
    this.exchanges.push({ ...exchange, delay, offset });
    const oldest = exchange.t3 - WINDOW_MS;
    this.exchanges = this.exchanges.filter((e) => e.t3 >= oldest).slice(-WINDOW_SAMPLES);
    this.cached = null;
  }

  /** Forgets every exchange (a reconnect may reach another relay instance, on another clock). */
  reset() {
    this.exchanges = [];
    this.cached = null;
  }

  /** @returns {ClockEstimate | null} */
  estimate() {
    if (this.cached !== null || this.exchanges.length === 0) return this.cached;
    // Ties go to the newest, so a steady link follows drift rather than the oldest readings.
    const fastest = [...this.exchanges].sort((a, b) => a.delay - b.delay || b.t3 - a.t3);
    const trusted = fastest.slice(0, Math.max(1, Math.ceil(fastest.length / 4)));
    const offsets = trusted.map((e) => e.offset).sort((a, b) => a - b);
    const offsetMs = median(offsets);
    const spread = median(offsets.map((o) => Math.abs(o - offsetMs)).sort((a, b) => a - b));
    const rttMs = /** @type {{ delay: number }} */ (fastest[0]).delay;
    this.cached = { offsetMs, uncertaintyMs: rttMs / 2 + spread, rttMs, samples: this.exchanges.length, used: trusted.length };
    return this.cached;
  }

  /** The relay clock at a local clock reading; null before the first exchange. @param {number} local */
  toRelay(local) {
    const estimate = this.estimate();
    return estimate === null ? null : local + estimate.offsetMs;
  }
}

/** The middle of sorted numbers (the mean of the two middle ones for an even count). @param {number[]} sorted */
export function median(sorted) {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? /** @type {number} */ (sorted[middle]) : (/** @type {number} */ (sorted[middle - 1]) + /** @type {number} */ (sorted[middle])) / 2;
}

/** When the next ping after ping number `sent` (counted from 0) goes: a burst at connect, then a steady pace. @param {number} sent */
export function nextPingDelay(sent) {
  return sent < BURST_PINGS ? BURST_INTERVAL_MS : PING_INTERVAL_MS;
}
