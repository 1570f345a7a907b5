import { describe, expect, it } from 'vitest';
import { compare, comparePooledQuantile, interleave, seededRandom, verdictOf } from './interleave.ts';
import { renderSvg } from './plot.ts';

describe('interleaved rounds', () => {
  it('alternates which side goes first and keeps each round as a pair', async () => {
    const order: string[] = [];
    const pairs = await interleave(
      4,
      async (round) => (order.push(`A${round}`), 10 + round),
      async (round) => (order.push(`B${round}`), 5),
    );
    expect(order).toEqual(['A0', 'B0', 'B1', 'A1', 'A2', 'B2', 'B3', 'A3']);
    expect(pairs.map((p) => p.relay)).toEqual([10, 11, 12, 13]);
    expect(pairs.every((p) => Number.isFinite(p.load))).toBe(true);
  });

  it('gives the median per-round ratio with its spread, and a verdict only where the spread allows one', () => {
    const rounds = (ratios: number[]) => ratios.map((r) => ({ relay: r * 100, baseline: 100, load: 1 }));
    const tight = compare(rounds([1.02, 1.05, 1.04, 1.03, 1.06]), 'ratio', 1.1);
    expect(tight.figure.median).toBeCloseTo(1.04, 9);
    expect(tight.figure.min).toBeCloseTo(1.02, 9);
    expect(tight.figure.max).toBeCloseTo(1.06, 9);
    expect(tight.verdict).toBe('pass');
    expect(compare(rounds([1.3, 1.4, 1.35, 1.5]), 'ratio', 1.1).verdict).toBe('regression');
    expect(compare(rounds([0.9, 1.3, 1.0, 1.4, 1.2]), 'ratio', 1.1).verdict).toBe('too noisy to call');
    expect(compare(rounds([1.0, 1.0]), 'ratio', 1.1).verdict).toBe('too noisy to call');
    expect(compare(rounds([1.0, 1.0, 1.0]), 'ratio', null).verdict).toBeNull();
    // Memory that shrank while sockets joined is no pass, however far under the limit.
    expect(compare(rounds([-27, -20, 0.5]), 'ratio', 1.1).verdict).toBe('too noisy to call');
    const added = compare([{ relay: 30, baseline: 29.5, load: 2 }, { relay: 31, baseline: 30.6, load: 3 }, { relay: 28, baseline: 27.8, load: 4 }], 'difference', 1);
    expect(added.figure.median).toBeCloseTo(0.4, 9);
    expect(added.load).toEqual({ min: 2, max: 4 });
    expect(verdictOf({ median: 1, q1: 0.9, q3: 1.1, min: 0, max: 2 }, 1.1, 5)).toBe('pass');
  });

  it("takes a round's own figure over relay/baseline where it has one (the median of its pairs' ratios)", () => {
    // Medians of each side say 2x; the pairs, each back to back, say 1x.
    const rounds = [1, 2, 3].map((load) => ({ relay: 10, baseline: 5, load, figure: 1 }));
    const paired = compare(rounds, 'ratio', 1.1);
    expect(paired.figure.median).toBe(1);
    expect(paired.relay.median).toBe(10);
    expect(paired.verdict).toBe('pass');
    expect(compare(rounds.map(({ figure: _, ...round }) => round), 'ratio', 1.1).verdict).toBe('regression');
  });

  it('takes a tail quantile over every round pooled, with a bootstrap over rounds as its spread and verdict', () => {
    const random = seededRandom(7);
    // 8 rounds of 120 samples a side, 20–30 ms, the relay's 1 ms later; each round's load falls on both sides.
    const rounds = (added: number, count = 8) =>
      Array.from({ length: count }, (_, round) => {
        const base = Array.from({ length: 120 }, () => 20 + 10 * random() + round);
        return { relay: base.map((v) => v + added), baseline: base, load: 1 + round / 10 };
      });
    const tight = comparePooledQuantile(rounds(1), 0.99, 5);
    expect(tight.figure.median).toBeCloseTo(1, 9);
    expect(tight.figure.min).toBeCloseTo(1, 9);
    expect(tight.figure.max).toBeCloseTo(1, 9);
    expect(tight.verdict).toBe('pass');
    expect(tight.pooled).toMatchObject({ relaySamples: 960, baselineSamples: 960 });
    expect(tight.rounds).toHaveLength(8);
    expect(tight.load).toEqual({ min: 1, max: 1.7 });
    const all = rounds(0).flatMap((r) => r.baseline).sort((a, b) => a - b);
    expect(comparePooledQuantile(rounds(0), 0.99, null).baseline.median).toBeGreaterThan(all[Math.floor(all.length * 0.9)]!);
    expect(comparePooledQuantile(rounds(8), 0.99, 5).verdict).toBe('regression');
    expect(comparePooledQuantile(rounds(1, 2), 0.99, 5).verdict).toBe('too noisy to call');
    // One round with a 40 ms stall on the relay's side only: the 90% interval straddles the limit.
    const stalled = rounds(0).map((r, i) => (i === 3 ? { ...r, relay: r.relay.map((v, j) => (j < 12 ? v + 40 : v)) } : r));
    const noisy = comparePooledQuantile(stalled, 0.99, 5);
    expect(noisy.figure.min).toBeLessThan(5);
    expect(noisy.figure.max).toBeGreaterThan(5);
    expect(noisy.verdict).toBe('too noisy to call');
    // The same samples give the same spread.
    expect(comparePooledQuantile(stalled, 0.99, 5).figure).toEqual(noisy.figure);
  });

  it('draws a curve as SVG with one line per series and a bar per point', () => {
    const svg = renderSvg({
      id: 'x',
      title: 'CPU <per> listener',
      xLabel: 'listeners',
      yLabel: 'µs',
      series: [
        { name: 'relay', points: [{ x: 100, y: 300, lo: 280, hi: 330 }, { x: 1000, y: 250, lo: 240, hi: 260 }] },
        { name: 'baseline', points: [{ x: 100, y: 200, lo: 190, hi: 210 }, { x: 1000, y: 180, lo: 170, hi: 185 }] },
      ],
    });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg.match(/<circle/g)).toHaveLength(4);
    expect(svg).toContain('CPU &lt;per&gt; listener');
  });
});
