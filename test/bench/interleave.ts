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
  const values = rounds.map((r) => (kind === 'ratio' ? (r.baseline !== 0 ? r.relay / r.baseline : Number.NaN) : r.relay - r.baseline));
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
