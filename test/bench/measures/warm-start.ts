/**
 * Warm start: the first utterance after the relay starts against the ones after it, on the same relay. Each
 * round starts a fresh relay (espeak), connects one listener, times text in → first audio of the first
 * utterance (after the relay has been up and idle for `idleMs`, as a deployed relay is before its first caller),
 * then of the next few; the round's figure is first / median of the rest. A relay that warms its engine and
 * its code paths at start gives ~1×.
 */
import { type Runtime, spawnChild } from '../child-process.ts';
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
  /** Utterances after the first, on the same relay: the warm figure is their median. */
  warmRuns: number;
  /** How long the relay is up and idle before the first utterance (the engine warms in the background). */
  idleMs: number;
}

export interface WarmStartResult {
  runtime: Runtime;
  idleMs: number;
  first: Comparison;
  /** Every round's readings, first one first. */
  readings: number[][];
}

/** The bound: the first utterance costs what the hundredth does, within 1.1×. */
export const WARM_START_LIMIT = 1.1;

async function oneRelay(ctx: BenchContext, runtime: Runtime, plan: WarmStartPlan): Promise<number[]> {
  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  try {
    const target = { url: relay.info.url, key: ctx.adminKey };
    const readings: number[] = [];
    await sleep(plan.idleMs);
    // Each utterance on a stream, listener and connection of its own, as a new caller would come: over a kept-alive
    // connection only the first would pay for the TCP connection (2-3x the warm figure at load 10).
    for (let i = 0; i <= plan.warmRuns; i++) {
      const stream = `warm-${i}`;
      const listener = await ProbeListener.open(`${relay.info.url.replace(/^http/, 'ws')}/v1/streams/${stream}/listen`, { authorization: `Bearer ${ctx.adminKey}` });
      readings.push(await timeToFirstAudio(target, stream, listener, SENTENCE, { newConnection: true }));
      listener.close();
    }
    return readings;
  } finally {
    await relay.stop();
  }
}

export async function measureWarmStart(ctx: BenchContext, runtime: Runtime, plan: WarmStartPlan): Promise<WarmStartResult> {
  const readings: number[][] = [];
  const pairs: RoundPair[] = [];
  for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
    const times = await oneRelay(ctx, runtime, plan);
    readings.push(times);
    pairs.push({ relay: times[0]!, baseline: median(times.slice(1)), load: os.loadavg()[0]! });
  }
  const first = compare(pairs, 'ratio', WARM_START_LIMIT);
  ctx.log(`  warm start (${runtime}, idle ${plan.idleMs} ms): first ${first.relay.median.toFixed(1)} ms, warm ${first.baseline.median.toFixed(1)} ms; ratio per round ${pairs.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}`);
  return { runtime, idleMs: plan.idleMs, first, readings };
}

export function warmStartRows(result: WarmStartResult): Row[] {
  return [
    comparedRow(
      {
        item: 4,
        figure: `text in → first audio, first utterance ${(result.idleMs / 1000).toFixed(1)} s after start (${result.runtime}, espeak)`,
        unit: 'ms',
        baselineName: 'the same relay warm',
        target: `≤ ${WARM_START_LIMIT}× warm`,
      },
      result.first,
    ),
  ];
}
