/**
 * The relay clock as a listener estimates it, NTP-style, from `clock_ping`/`clock_pong` exchanges over the
 * listen socket (shared/protocol.ts). Exchanges with the least round trip carry the least queueing, so the
 * least asymmetry: the offset is the median of the fastest quarter of recent exchanges, the rest dropped.
 */
import type { ClockPing, ClockPong, Hello } from '../shared/protocol.ts';
import { unrefTimer } from '../shared/timers.ts';

/** Exchanges kept, and how old one may be: long enough to ride out a jittery spell, short enough to follow drift. */
const WINDOW_SAMPLES = 64;
const WINDOW_MS = 60_000;
/** Pings at connect (to have an estimate before the first audio), then one every PING_INTERVAL_MS. */
const BURST_PINGS = 8;
const BURST_INTERVAL_MS = 60;
const PING_INTERVAL_MS = 1000;

/** The listener's own clock: epoch-like milliseconds, monotonic (a wall clock may step; this never does). */
export function localClock(): number {
  return performance.timeOrigin + performance.now();
}

export interface ClockExchange {
  /** Local clock when the ping left and when the pong arrived. */
  t0: number;
  t3: number;
  /** Relay clock when the ping arrived and when the pong left. */
  t1: number;
  t2: number;
}

export interface ClockEstimate {
  /** relay clock − local clock, in ms. */
  offsetMs: number;
  /** Half the fastest round trip plus the spread of the exchanges trusted: the offset is within this. */
  uncertaintyMs: number;
  /** The fastest round trip in the window. */
  rttMs: number;
  /** Exchanges in the window, and how many of them the estimate rests on. */
  samples: number;
  used: number;
}

export class ClockEstimator {
  private exchanges: Array<ClockExchange & { delay: number; offset: number }> = [];
  private cached: ClockEstimate | null = null;

  /** Takes in one exchange; one with a negative round trip (a clock step mid-flight) is dropped. */
  add(exchange: ClockExchange): void {
    const delay = exchange.t3 - exchange.t0 - (exchange.t2 - exchange.t1);
    if (!(delay >= 0) || !Number.isFinite(delay)) return;
    const offset = (exchange.t1 - exchange.t0 + (exchange.t2 - exchange.t3)) / 2;
    this.exchanges.push({ ...exchange, delay, offset });
    const oldest = exchange.t3 - WINDOW_MS;
    this.exchanges = this.exchanges.filter((e) => e.t3 >= oldest).slice(-WINDOW_SAMPLES);
    this.cached = null;
  }

  /** Forgets every exchange (a reconnect may reach another relay instance, on another clock). */
  reset(): void {
    this.exchanges = [];
    this.cached = null;
  }

  estimate(): ClockEstimate | null {
    if (this.cached !== null || this.exchanges.length === 0) return this.cached;
    // Ties go to the newest, so a steady link follows drift rather than the oldest readings.
    const fastest = [...this.exchanges].sort((a, b) => a.delay - b.delay || b.t3 - a.t3);
    const trusted = fastest.slice(0, Math.max(1, Math.ceil(fastest.length / 4)));
    const offsets = trusted.map((e) => e.offset).sort((a, b) => a - b);
    const offsetMs = median(offsets);
    const spread = median(offsets.map((o) => Math.abs(o - offsetMs)).sort((a, b) => a - b));
    const rttMs = fastest[0]!.delay;
    this.cached = { offsetMs, uncertaintyMs: rttMs / 2 + spread, rttMs, samples: this.exchanges.length, used: trusted.length };
    return this.cached;
  }

  /** The relay clock at a local clock reading; null before the first exchange. */
  toRelay(local: number): number | null {
    const estimate = this.estimate();
    return estimate === null ? null : local + estimate.offsetMs;
  }
}

function median(sorted: number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Pings the relay over one connection and feeds the pongs to an estimator; stop() when the connection ends. */
export class ClockPinger {
  private next = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly send: (ping: ClockPing) => void,
    private readonly estimator: ClockEstimator,
    private readonly clock: () => number = localClock,
  ) {
    this.schedule(0);
  }

  /** Takes a pong; returns false when it answers no ping of this connection. */
  receive(pong: ClockPong): boolean {
    const t3 = this.clock();
    if (this.stopped || pong.id >= this.next) return false;
    this.estimator.add({ t0: pong.t0, t1: pong.t1, t2: pong.t2, t3 });
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      try {
        this.send({ type: 'clock_ping', id: this.next++, t0: this.clock() });
      } catch {
        return this.stop();
      }
      this.schedule(this.next < BURST_PINGS ? BURST_INTERVAL_MS : PING_INTERVAL_MS);
    }, delayMs);
    unrefTimer(this.timer);
  }
}

/** "+700.2 ms ± 0.4" for the status line. */
export function formatEstimate(estimate: ClockEstimate | null): string {
  if (estimate === null) return 'relay clock unknown';
  const sign = estimate.offsetMs >= 0 ? '+' : '−';
  return `relay clock ${sign}${Math.abs(estimate.offsetMs).toFixed(1)} ms ± ${estimate.uncertaintyMs.toFixed(1)}`;
}

/** The clock of one listen session across reconnects: pings while connected to a relay that keeps presentation times. */
export class ClockSync {
  readonly estimator = new ClockEstimator();
  private pinger: ClockPinger | null = null;

  /** A new connection: the relay (perhaps another instance) is estimated afresh, if it answers pings at all. */
  connected(hello: Hello, send: (ping: ClockPing) => void): void {
    this.disconnected();
    this.estimator.reset();
    if (hello.clock !== undefined) this.pinger = new ClockPinger(send, this.estimator);
  }

  disconnected(): void {
    this.pinger?.stop();
    this.pinger = null;
  }

  receive(pong: ClockPong): void {
    this.pinger?.receive(pong);
  }

  estimate(): ClockEstimate | null {
    return this.estimator.estimate();
  }
}
