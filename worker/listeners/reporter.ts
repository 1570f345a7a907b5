/** One listener's played reports, from its first one on: its latest position and its allowance. */
import { RelayError } from '../../shared/errors.ts';

/** Reports a listener may send in a burst, and one more every this many milliseconds (the agent sends 4/s). */
const REPORT_BURST = 8;
const REPORT_REFILL_MS = 100;
/** A listener that goes on sending this many reports over its allowance is closed with `rate_limited`. */
const FLOOD_LIMIT = 200;

export class Reporter {
  /** Sent at least one report that counted: it is a player that reports, so its finals are awaited. */
  reporting = false;
  position: { utterance: number; seconds: number; at: number } | null = null;
  private tokens = REPORT_BURST;
  private overAllowance = 0;

  constructor(private refilledAt: number) {}

  /**
   * Whether a report at `now` is within the allowance (a token bucket). Throws `rate_limited` once the listener has
   * gone on past it too long.
   */
  allow(now: number): boolean {
    const refill = Math.floor((now - this.refilledAt) / REPORT_REFILL_MS);
    if (refill > 0) {
      this.tokens = Math.min(REPORT_BURST, this.tokens + refill);
      this.refilledAt += refill * REPORT_REFILL_MS;
    }
    if (this.tokens < 1) {
      if (++this.overAllowance > FLOOD_LIMIT) throw new RelayError('rate_limited', 'Too many played reports: send one every 250 ms at most.');
      return false;
    }
    this.tokens--;
    this.overAllowance = Math.max(0, this.overAllowance - 1);
    return true;
  }
}
