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
  it('finds the offset of a clock 700 ms off through 150 ± 40 ms of one-sided jitter', () => {
    const random = seeded(7);
    const estimator = new ClockEstimator();
    for (let i = 0; i < 64; i++) {
      // Downstream: 110–190 ms of queueing; upstream: 2 ms and an occasional burst. Symmetric path of 1 ms.
      const up = 1 + (random() < 0.2 ? random() * 80 : random() * 2);
      const down = 1 + 110 + random() * 80;
      estimator.add(exchange(10_000 + i * 1000, -700, up, down));
    }
    const estimate = estimator.estimate()!;
    // Asymmetry biases an NTP offset by half of it: the estimate is off by about (down − up) / 2 of the fastest.
    expect(estimate.used).toBe(Math.ceil(estimate.samples / 4));
    expect(Math.abs(estimate.offsetMs + 700 + (estimate.rttMs - 2) / 2)).toBeLessThan(estimate.uncertaintyMs + 5);
    expect(estimate.uncertaintyMs).toBeGreaterThanOrEqual(estimate.rttMs / 2);
  });

  it('is exact to the sub-millisecond on a quiet symmetric link, and drops outliers and impossible exchanges', () => {
    const random = seeded(3);
    const estimator = new ClockEstimator();
    for (let i = 0; i < 40; i++) {
      const jitter = random() * 0.2;
      estimator.add(exchange(i * 1000, 1234.5, 0.3 + jitter, 0.3 + jitter));
    }
    // A few exchanges stuck in a queue one way: slow, so never trusted.
    for (let i = 0; i < 8; i++) estimator.add(exchange(50_000 + i, 1234.5, 400, 0.3));
    // A clock step mid-flight gives a negative round trip: dropped.
    estimator.add({ t0: 60_000, t1: 61_234, t2: 61_234, t3: 59_000 });
    const estimate = estimator.estimate()!;
    expect(estimate.samples).toBe(48);
    expect(Math.abs(estimate.offsetMs - 1234.5)).toBeLessThan(0.1);
    expect(estimate.uncertaintyMs).toBeLessThan(0.5);
  });

  it('follows drift: old exchanges leave the window', () => {
    const estimator = new ClockEstimator();
    for (let i = 0; i < 200; i++) estimator.add(exchange(i * 1000, 10 + i * 0.05, 0.5, 0.5));
    // 50 µs a second (50 ppm): the estimate rests on the newest quarter of the window, within 1 ms of now's offset.
    expect(Math.abs(estimator.estimate()!.offsetMs - (10 + 199 * 0.05))).toBeLessThan(1);
    expect(estimator.toRelay(5)).toBeCloseTo(5 + estimator.estimate()!.offsetMs, 6);
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
