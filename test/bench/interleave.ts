/**
 * Interleaved A/B rounds: the relay and its baseline measured alternately (A B, B A, A B …) in the same process
 * layout on the same bytes, so a busy neighbour falls on both alike. Each round gives one relay/baseline pair;
 * the figure is the median of the per-round ratios (or differences), its spread the interquartile range and
 * the min–max, and a verdict is given only where the spread lies wholly on one side of the limit.
 */
import os from 'node:os';
import { quantile } from './stats.ts';

export interface RoundPair {
  relay: number;
  baseline: number;
  /** 1-minute load average as the round ended. */
  load: number;
  /**
   * The round's own figure, where it is not relay/baseline (or relay − baseline): e.g. the median of its pairs'
   * ratios, each pair taken back to back.
   */
  figure?: number;
}

/** A round's ratio (or difference): its own figure when it has one. */
export function roundFigure(round: RoundPair, kind: 'ratio' | 'difference'): number {
  if (round.figure !== undefined) return round.figure;
  if (kind === 'difference') return round.relay - round.baseline;
  return round.baseline !== 0 ? round.relay / round.baseline : Number.NaN;
}

/** pass: the whole interquartile range within the limit; regression: wholly past it; otherwise too noisy. */
export type RoundVerdict = 'pass' | 'regression' | 'too noisy to call';

export interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}

export interface Comparison {
  /** ratio: relay / baseline per round; difference: relay − baseline per round (latency added, in the unit). */
  kind: 'ratio' | 'difference';
  rounds: RoundPair[];
  relay: Spread;
  baseline: Spread;
  /** Per-round ratio (or difference), its median and spread. */
  figure: Spread;
  load: { min: number; max: number };
  limit: number | null;
  verdict: RoundVerdict | null;
  /**
   * Set when the figure is one quantile of the samples pooled over every round (not a median of per-round figures):
   * the samples on each side, and what the spread is (`figure`'s q1–q3 and min–max are then the bootstrap's
   * 25–75% and 5–95%).
   */
  pooled?: { relaySamples: number; baselineSamples: number; resamples: number };
}

/** Fewer rounds than this never gets a verdict: two pairs say nothing about their spread. */
export const MIN_ROUNDS_FOR_VERDICT = 3;

export function spreadOf(values: readonly number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/**
 * Runs `rounds` rounds of `relay` and `baseline`, alternating which goes first so drift in the machine's load
 * during a round does not always favour the same side. Each side returns its figure for that round.
 */
export async function interleave(rounds: number, relay: (round: number) => Promise<number>, baseline: (round: number) => Promise<number>): Promise<RoundPair[]> {
  const pairs: RoundPair[] = [];
  for (let round = 0; round < rounds; round++) {
    let a: number;
    let b: number;
    if (round % 2 === 0) {
      a = await relay(round);
      b = await baseline(round);
    } else {
      b = await baseline(round);
      a = await relay(round);
    }
    pairs.push({ relay: a, baseline: b, load: os.loadavg()[0]! });
  }
  return pairs;
}

export function verdictOf(figure: Spread, limit: number | null, rounds: number): RoundVerdict | null {
  if (limit === null) return null;
  if (rounds < MIN_ROUNDS_FOR_VERDICT || !Number.isFinite(figure.q1)) return 'too noisy to call';
  if (figure.q3 <= limit) return 'pass';
  if (figure.q1 > limit) return 'regression';
  return 'too noisy to call';
}

export function compare(rounds: RoundPair[], kind: Comparison['kind'], limit: number | null): Comparison {
  const values = rounds.map((r) => roundFigure(r, kind));
  const figure = spreadOf(values);
  const loads = rounds.map((r) => r.load);
  return {
    kind,
    rounds,
    relay: spreadOf(rounds.map((r) => r.relay)),
    baseline: spreadOf(rounds.map((r) => r.baseline)),
    figure,
    load: { min: Math.min(...loads), max: Math.max(...loads) },
    limit,
    // A ratio at or below zero (memory that shrank as sockets joined) measures something else: no verdict passes it.
    verdict: kind === 'ratio' && !(figure.q1 > 0) && limit !== null ? 'too noisy to call' : verdictOf(figure, limit, rounds.filter((r) => Number.isFinite(r.relay) && Number.isFinite(r.baseline)).length),
  };
}

/** One round's raw samples on both sides, taken in the same seconds. */
export interface SampledRound {
  relay: readonly number[];
  baseline: readonly number[];
  load: number;
}

/** Bootstrap resamples for a pooled quantile: enough for a stable 5–95% interval, a fraction of a second to run. */
const RESAMPLES = 2000;

/**
 * The q-quantile of every round's samples pooled, relay − baseline. A round's p99 of ~100 samples is nearly its
 * second-largest, so per-round p99s scatter more than anything they compare; pooled, the p99 rests on ~1% of all
 * the samples. The spread resamples whole rounds with replacement (a bootstrap over rounds), so each round's relay
 * and baseline samples, taken in the same seconds, stay together. Verdicts use the 5–95% interval, not the IQR:
 * the interval describes the pooled figure itself, and a pass should hold in 19 resamples of 20.
 */
export function comparePooledQuantile(rounds: readonly SampledRound[], q: number, limit: number | null, random: () => number = seededRandom(1)): Comparison {
  const pooledQuantile = (picked: readonly SampledRound[], side: 'relay' | 'baseline') => {
    const pooled = new Float64Array(picked.reduce((n, r) => n + r[side].length, 0));
    let at = 0;
    for (const round of picked) for (const value of round[side]) pooled[at++] = value;
    return quantile(pooled.sort(), q);
  };
  const resampled = { relay: [] as number[], baseline: [] as number[], figure: [] as number[] };
  for (let i = 0; i < RESAMPLES && rounds.length > 0; i++) {
    const picked = rounds.map(() => rounds[Math.floor(random() * rounds.length)]!);
    const relay = pooledQuantile(picked, 'relay');
    const baseline = pooledQuantile(picked, 'baseline');
    resampled.relay.push(relay);
    resampled.baseline.push(baseline);
    resampled.figure.push(relay - baseline);
  }
  const relay = pooledQuantile(rounds, 'relay');
  const baseline = pooledQuantile(rounds, 'baseline');
  const interval = (values: number[], estimate: number): Spread => {
    const sorted = values.sort((a, b) => a - b);
    return { median: estimate, q1: quantile(sorted, 0.25), q3: quantile(sorted, 0.75), min: quantile(sorted, 0.05), max: quantile(sorted, 0.95) };
  };
  const figure = interval(resampled.figure, relay - baseline);
  const loads = rounds.map((r) => r.load);
  const perRound = rounds.map((r) => ({ relay: pooledQuantile([r], 'relay'), baseline: pooledQuantile([r], 'baseline'), load: r.load }));
  const callable = rounds.length >= MIN_ROUNDS_FOR_VERDICT && Number.isFinite(figure.min);
  return {
    kind: 'difference',
    rounds: perRound,
    relay: interval(resampled.relay, relay),
    baseline: interval(resampled.baseline, baseline),
    figure,
    load: { min: Math.min(...loads), max: Math.max(...loads) },
    limit,
    verdict: limit === null ? null : !callable ? 'too noisy to call' : figure.max <= limit ? 'pass' : figure.min > limit ? 'regression' : 'too noisy to call',
    pooled: { relaySamples: rounds.reduce((n, r) => n + r.relay.length, 0), baselineSamples: rounds.reduce((n, r) => n + r.baseline.length, 0), resamples: RESAMPLES },
  };
}

/** A small seeded generator (mulberry32): the same samples give the same spread, run after run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
