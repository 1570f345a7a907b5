import { describe, expect, it } from 'vitest';
import { ClockEstimator } from '../../agent/clock-sync.ts';
import { wallClockOrigin } from '../../shared/clock-estimator.js';

/** A link with a fixed path delay each way plus random queueing, up and down independently (asymmetric jitter). */
function exchange(at: number, trueOffset: number, up: number, down: number, relayTurn = 0.05) {
  const t0 = at;
  const t1 = t0 + up + trueOffset;
  const t2 = t1 + relayTurn;
  const t3 = t2 - trueOffset + down;
  return { t0, t1, t2, t3 };
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

describe('ClockEstimator', () => {
  it('finds a clock 700 ms off through 150 ± 40 ms of jitter each way: median error under 1 ms after the first ten seconds', () => {
    /** One link, as the agent pings at connect (8 + 80 pings, ~10.5 s): |error| of the estimate, and the estimate. */
    const link = (seed: number) => {
      const random = seeded(seed);
      const estimator = new ClockEstimator();
      for (let i = 0; i < 88; i++) {
        // Either way 110-190 ms; a pong queued behind audio leaves later still (the link keeps order).
        const up = 110 + random() * 80;
        const down = 110 + random() * 80 + (random() < 0.5 ? random() * 60 : 0);
        estimator.add(exchange(10_000 + i * 125, -700, up, down));
      }
      const estimate = estimator.estimate()!;
      return { error: Math.abs(estimate.offsetMs + 700), estimate };
    };
    const errors = Array.from({ length: 101 }, (_, seed) => link(seed + 1).error).sort((a, b) => a - b);
    // The fastest-round-trip estimate (median of the fastest quarter) was off by 3.2 ms median, 15 ms at worst here.
    expect(errors[50]).toBeLessThan(1);
    expect(errors[100]).toBeLessThan(5);
    const { estimate } = link(11);
    // The bounds of the least-delayed ping and pong: ~110 ms each side, no wider than the fastest round trip's half.
    expect(estimate.uncertaintyMs).toBeGreaterThanOrEqual(110 - 0.05);
    expect(estimate.uncertaintyMs).toBeLessThanOrEqual(estimate.rttMs / 2);
    expect(estimate.used).toBe(2);
  });

  it('is biased by half the difference of the fastest paths each way, and no more, when the link is asymmetric', () => {
    const random = seeded(7);
    const estimator = new ClockEstimator();
    for (let i = 0; i < 64; i++) {
      // Downstream: 110–190 ms of queueing; upstream: 2 ms and an occasional burst. Symmetric path of 1 ms.
      const up = 1 + (random() < 0.2 ? random() * 80 : random() * 2);
      const down = 1 + 110 + random() * 80;
      estimator.add(exchange(10_000 + i * 1000, -700, up, down));
    }
    const estimate = estimator.estimate()!;
    // No listener can see an asymmetry of the fastest paths (111 ms down, 1 ms up): the estimate sits half of it off.
    expect(Math.abs(estimate.offsetMs + 700 + (111 - 1) / 2)).toBeLessThan(2);
    expect(Math.abs(estimate.offsetMs + 700)).toBeLessThanOrEqual(estimate.uncertaintyMs);
  });

  it('is exact to the sub-millisecond on a quiet symmetric link, and drops outliers and impossible exchanges', () => {
    const random = seeded(3);
    const estimator = new ClockEstimator();
    for (let i = 0; i < 40; i++) {
      const jitter = random() * 0.2;
      estimator.add(exchange(i * 500, 1234.5, 0.3 + jitter, 0.3 + jitter));
    }
    // A few exchanges stuck in a queue one way: slow, so they bound nothing.
    for (let i = 0; i < 8; i++) estimator.add(exchange(25_000 + i, 1234.5, 400, 0.3));
    // A clock step mid-flight gives a negative round trip: dropped.
    estimator.add({ t0: 26_000, t1: 27_234, t2: 27_234, t3: 25_000 });
    const estimate = estimator.estimate()!;
    expect(estimate.samples).toBe(48);
    expect(Math.abs(estimate.offsetMs - 1234.5)).toBeLessThan(0.1);
    expect(estimate.uncertaintyMs).toBeLessThan(0.5);
  });

  it('follows drift: old exchanges leave the window, which is short enough that 50 ppm moves the offset under 1 ms across it', () => {
    const random = seeded(5);
    const estimator = new ClockEstimator();
    // 50 µs a second (50 ppm, two crystals without NTP), two pings a second: the estimate lags the drift by at most half
    // the window's (0.75 ms), beside the link's own error.
    for (let i = 0; i < 400; i++) estimator.add(exchange(i * 500, 10 + i * 0.5 * 0.05, 0.5 + random() * 0.2, 0.5 + random() * 0.2));
    const estimate = estimator.estimate()!;
    expect(estimate.samples).toBe(61);
    expect(Math.abs(estimate.offsetMs - (10 + 399 * 0.5 * 0.05))).toBeLessThan(1);
    expect(estimator.toRelay(5)).toBeCloseTo(5 + estimate.offsetMs, 6);
  });

  it('rests on one exchange alone when it is both the least-delayed ping and pong', () => {
    const estimator = new ClockEstimator();
    estimator.add(exchange(0, 42, 5, 5));
    expect(estimator.estimate()).toMatchObject({ samples: 1, used: 1, rttMs: 10 });
    expect(estimator.estimate()!.offsetMs).toBeCloseTo(42, 6);
    expect(estimator.estimate()!.uncertaintyMs).toBeCloseTo(5, 6);
  });
});

describe('wallClockOrigin', () => {
  it('anchors the monotonic clock to the wall clock to within its millisecond tick, busy or not', () => {
    const origin = wallClockOrigin();
    // Date.now() is the floor of the wall time, so the anchored clock reads up to 1 ms ahead of it, never behind; a
    // preemption between the two reads only adds, so the least of many readings is the anchor's own error.
    const ahead = Array.from({ length: 50 }, () => {
      const wall = Date.now();
      return origin + performance.now() - wall;
    });
    expect(Math.min(...ahead)).toBeGreaterThanOrEqual(-0.1);
    expect(Math.min(...ahead)).toBeLessThan(1.1);
  });
});
