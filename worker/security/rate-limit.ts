/** Token buckets keyed by name (a token's id): each request takes one unit; units refill at a steady rate. */
import { RelayError } from '../../shared/errors.ts';
import type { Rate } from './principal.ts';

// Buckets of tokens not seen for a while are forgotten past this many; a full bucket holds no information.
const MAX_BUCKETS = 100_000;

interface Bucket {
  units: number;
  /** Clock reading (ms) of the last refill. */
  at: number;
  rate: Rate;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number) {}

  /** Takes one unit from `key`'s bucket; throws `rate_limited` with the seconds until one is back. */
  take(key: string, rate: Rate): void {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.forgetFull(now);
      bucket = { units: rate.burst, at: now, rate };
      this.buckets.set(key, bucket);
    }
    bucket.rate = rate;
    bucket.units = Math.min(rate.burst, bucket.units + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    if (bucket.units >= 1) {
      bucket.units -= 1;
      return;
    }
    const retryAfter = (1 - bucket.units) / rate.perSecond;
    throw new RelayError('rate_limited', `This token may make ${rate.perSecond} requests per second (burst ${rate.burst}); retry in ${retryAfter.toFixed(2)} s.`, { retryAfter });
  }

  get size(): number {
    return this.buckets.size;
  }

  private forgetFull(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.units + ((now - bucket.at) / 1000) * bucket.rate.perSecond >= bucket.rate.burst) this.buckets.delete(key);
    }
    // Everyone is busy: drop the oldest rather than grow without bound.
    if (this.buckets.size >= MAX_BUCKETS) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
  }
}
