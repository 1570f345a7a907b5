/**
 * The agent's side of clock sync: pings over the listen socket, fed to the estimator in shared/clock-estimator.js
 * (the same one the browser player runs), and the estimate for the status line.
 */
import type { ClockPing, ClockPong, Hello } from '../shared/protocol.ts';
import { unrefTimer } from '../shared/timers.ts';
import { ClockEstimator, localClock, nextPingDelay } from '../shared/clock-estimator.js';
import type { ClockEstimate } from '../shared/clock-estimator.js';

export { ClockEstimator, localClock };
export type { ClockEstimate, ClockExchange } from '../shared/clock-estimator.js';

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
      this.schedule(nextPingDelay(this.next));
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
