// @ts-check
/**
 * The relay clock as a listener estimates it, NTP-style, from `clock_ping`/`clock_pong` exchanges over the listen
 * socket (shared/protocol.ts). Every exchange bounds the offset from both sides: the ping cannot arrive before it
 * left (offset ≤ t1 − t0) nor the pong before it was sent (offset ≥ t2 − t3). Queueing, a busy event loop and
 * jitter only ever add delay, so they loosen a bound and never tighten it: the estimate is the middle of the tightest
 * bounds of the window, the least-delayed ping and the least-delayed pong, whichever exchanges they came from — far
 * closer than the fastest round trip alone on a jittery link, and untouched by slow exchanges.
 *
 * Plain JavaScript (types in JSDoc) so that one estimator runs in the agent and, unbuilt, in the browser player
 * (the relay serves this file at /shared/clock-estimator.js, where client.js's relative import finds it).
 */

/**
 * Exchanges kept, and how old one may be: enough for tight bounds through a jittery link, short enough that two
 * crystals drifting apart (up to ~50 ppm without NTP) move the offset by under a millisecond across the window.
 */
const WINDOW_SAMPLES = 120;
const WINDOW_MS = 30_000;
/**
 * Pings at connect: a burst (an estimate before the first audio), then a quick spell that tightens the bounds before
 * the first utterances (the relay answers up to ten a second), then a steady pace that keeps the window full enough.
 */
export const BURST_PINGS = 8;
export const BURST_INTERVAL_MS = 60;
const QUICK_PINGS = 80;
const QUICK_INTERVAL_MS = 125;
export const PING_INTERVAL_MS = 500;

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
 * @property {number} uncertaintyMs half the gap between the tightest bounds: with neither way's fastest path slower
 *   than the other's, the offset is within this
 * @property {number} rttMs the fastest round trip in the window
 * @property {number} samples exchanges in the window
 * @property {number} used how many of them give the bounds the estimate rests on (1 or 2)
 */

export class ClockEstimator {
  constructor() {
    /** @type {ClockExchange[]} */
    this.exchanges = [];
    /** @type {ClockEstimate | null} */
    this.cached = null;
  }

  /** Takes in one exchange; one with a negative round trip (a clock step mid-flight) is dropped. @param {ClockExchange} exchange */
  add(exchange) {
    const delay = exchange.t3 - exchange.t0 - (exchange.t2 - exchange.t1);
    if (!(delay >= 0) || !Number.isFinite(delay)) return;
    this.exchanges.push(exchange);
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
    let upper = Infinity;
    let lower = -Infinity;
    let rttMs = Infinity;
    /** @type {ClockExchange | null} */
    let upperFrom = null;
    /** @type {ClockExchange | null} */
    let lowerFrom = null;
    for (const e of this.exchanges) {
      if (e.t1 - e.t0 < upper) [upper, upperFrom] = [e.t1 - e.t0, e];
      if (e.t2 - e.t3 > lower) [lower, lowerFrom] = [e.t2 - e.t3, e];
      rttMs = Math.min(rttMs, e.t3 - e.t0 - (e.t2 - e.t1));
    }
    const used = upperFrom === lowerFrom ? 1 : 2;
    this.cached = { offsetMs: (upper + lower) / 2, uncertaintyMs: (upper - lower) / 2, rttMs, samples: this.exchanges.length, used };
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

/** When the next ping after ping number `sent` (counted from 0) goes: a burst at connect, a quick spell, then a steady pace. @param {number} sent */
export function nextPingDelay(sent) {
  if (sent < BURST_PINGS) return BURST_INTERVAL_MS;
  return sent < BURST_PINGS + QUICK_PINGS ? QUICK_INTERVAL_MS : PING_INTERVAL_MS;
}
