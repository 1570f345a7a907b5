/**
 * Warm start: the first utterance after the relay starts against the ones after it, on the same relays and after
 * the same idle. Each round starts a few fresh relays (espeak) together and waits until their start-up work is
 * over (the rehearsal, the engine's warm-up); then, `warmRuns + 1` times over, it leaves them idle `idleMs` (a
 * deployed relay is idle before a caller comes) and times text in → first audio of one utterance on each in turn.
 * The round's figure is the median of the first utterances over the median of the rest: both pay the wake-ups an
 * idle process pays (its threads and the listener's), so only what the first utterance runs cold is left. A relay
 * that warms its engine and its code paths at start gives ~1×.
 */
import { type BenchChild, type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { compare, type Comparison, type RoundPair } from '../interleave.ts';
import { ProbeListener } from '../probe-listener.ts';
import { comparedRow, type Row } from '../report.ts';
import { median } from '../stats.ts';
import { SENTENCE, timeToFirstAudio } from './engine.ts';
import os from 'node:os';

export interface WarmStartPlan {
  rounds: number;
  /**
   * Fresh relays a round. A relay has one first utterance, one reading that varies 2-3x from one sentence to the
   * next at load: the median of a few makes a round's figure as steady as its warm one.
   */
  relays: number;
  /** Utterances after the first, on the same relay, each after the same idle: the warm figure is their median. */
  warmRuns: number;
  /** How long the relays stay idle before each utterance (the first: once their start-up work is over). */
  idleMs: number;
}

export interface WarmStartResult {
  runtime: Runtime;
  idleMs: number;
  first: Comparison;
  /** Every relay's readings, first one first, round after round. */
  readings: number[][];
}

/** The bound: the first utterance costs what the hundredth does, within 1.1×. */
export const WARM_START_LIMIT = 1.1;

type Target = { url: string; key: string };

async function oneRound(ctx: BenchContext, runtime: Runtime, plan: WarmStartPlan): Promise<{ readings: number[][]; quietMs: number }> {
  const started = await Promise.allSettled(Array.from({ length: plan.relays }, () => startRelay(ctx, runtime)));
  const relays = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const targets: Target[] = relays.map((relay) => ({ url: relay.info.url, key: ctx.adminKey }));
    const quietFrom = performance.now();
    await untilQuiet(relays);
    const quietMs = performance.now() - quietFrom;
    // Every relay's first utterance before any relay's next ones; each relay's utterances in the same order after
    // the same idle, the first's included.
    const readings: number[][] = targets.map(() => []);
    for (let i = 0; i <= plan.warmRuns; i++) {
      await sleep(plan.idleMs);
      for (const [r, target] of targets.entries()) readings[r]!.push(await utterance(target, i));
    }
    return { readings, quietMs };
  } finally {
    await Promise.all(relays.map((relay) => relay.stop()));
  }
}

/**
 * A relay is quiet when it used under QUIET_CPU_MS in a window: started together at load 15, three relays'
 * engine warm-ups still ran past 5 s, and a first utterance then waited for a warm-up sentence to end.
 */
const QUIET_WINDOW_MS = 250;
const QUIET_CPU_MS = 10;
/** A bound, not a wait: an idle relay is quiet within a second of its warm-up. */
const QUIET_MAX_MS = 30_000;

async function untilQuiet(relays: BenchChild<unknown>[]): Promise<void> {
  const deadline = performance.now() + QUIET_MAX_MS;
  let before = await Promise.all(relays.map((relay) => relay.usage()));
  while (performance.now() < deadline) {
    await sleep(QUIET_WINDOW_MS);
    const now = await Promise.all(relays.map((relay) => relay.usage()));
    const busiestMs = Math.max(...now.map((usage, i) => usage.cpuUs - before[i]!.cpuUs)) / 1000;
    before = now;
    if (busiestMs < QUIET_CPU_MS) return;
  }
}

async function startRelay(ctx: BenchContext, runtime: Runtime) {
  const port = await freePort();
  return spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
}

/**
 * One utterance on a stream, listener and connection of its own, as a new caller would come: over a kept-alive
 * connection only the first would pay for the TCP connection (2-3x the warm figure at load 10).
 */
async function utterance(target: Target, i: number): Promise<number> {
  const stream = `warm-${i}`;
  const listener = await ProbeListener.open(`${target.url.replace(/^http/, 'ws')}/v1/streams/${stream}/listen`, { authorization: `Bearer ${target.key}` });
  try {
    return await timeToFirstAudio(target, stream, listener, SENTENCE, { newConnection: true });
  } finally {
    listener.close();
  }
}

export async function measureWarmStart(ctx: BenchContext, runtime: Runtime, plan: WarmStartPlan): Promise<WarmStartResult> {
  const readings: number[][] = [];
  const pairs: RoundPair[] = [];
  const quietMs: number[] = [];
  for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
    const { readings: relays, quietMs: quiet } = await oneRound(ctx, runtime, plan);
    quietMs.push(quiet);
    readings.push(...relays);
    pairs.push({ relay: median(relays.map((times) => times[0]!)), baseline: median(relays.flatMap((times) => times.slice(1))), load: os.loadavg()[0]! });
  }
  const first = compare(pairs, 'ratio', WARM_START_LIMIT);
  ctx.log(`  warm start (${runtime}, ${plan.relays} relays a round, quiet ${(median(quietMs) / 1000).toFixed(1)} s after start, idle ${plan.idleMs} ms before each): first ${first.relay.median.toFixed(1)} ms, warm ${first.baseline.median.toFixed(1)} ms; ratio per round ${pairs.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}`);
  return { runtime, idleMs: plan.idleMs, first, readings };
}

export function warmStartRows(result: WarmStartResult): Row[] {
  return [
    comparedRow(
      {
        item: 4,
        figure: `text in → first audio, first utterance after start, each after ${(result.idleMs / 1000).toFixed(1)} s idle (${result.runtime}, espeak)`,
        unit: 'ms',
        baselineName: 'the same relays, next ones',
        target: `≤ ${WARM_START_LIMIT}× warm`,
      },
      result.first,
    ),
  ];
}
