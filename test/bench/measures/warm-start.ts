/**
 * Warm start: the first utterance after the relay starts against a warm relay's, in the same moments. Each round
 * starts a few fresh relays (espeak) together and waits until their start-up work is over (the rehearsal, the
 * engine's warm-up) and every relay is quiet; after an idle of `idleMs` (a deployed relay is idle before a caller
 * comes) it times text in → first audio of one utterance on each fresh relay, each back to back with one on a warm
 * relay (which of the two goes first alternates by round). The warm relays are started once, before the first
 * round, and made warm by `warmRuns` utterances after their first, each after the same idle; they serve every
 * round, one more utterance each a round, and the fresh relays stop after theirs. Both sides of a pair pay
 * the wake-ups an idle process pays and the machine's load at that moment, so what is left between them is what
 * the first utterance runs cold. A relay that warms its engine and its code paths at start gives ~1×.
 */
import { type BenchChild, type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { compare, type Comparison, type RoundPair } from '../interleave.ts';
import { comparedRow, type Row } from '../report.ts';
import { median } from '../stats.ts';
import { SENTENCE } from './engine.ts';
import { FIRST_UTTERANCE_LIMIT, newCallerUtterance } from './first-audio.ts';
import os from 'node:os';

export interface WarmStartPlan {
  rounds: number;
  /**
   * Fresh relays a round. A relay has one first utterance, one reading that varies 2-3x from one sentence to the
   * next at load: the median of several makes a round's figure steady enough for a verdict.
   */
  relays: number;
  /** Utterances the warm relays speak after their first, each after the same idle, before the first round. */
  warmRuns: number;
  /** How long the relays stay idle before each utterance (the first: once their start-up work is over). */
  idleMs: number;
}

export interface WarmStartResult {
  runtime: Runtime;
  idleMs: number;
  first: Comparison;
  /** Every first utterance and the warm one beside it, round after round. */
  readings: { first: number; warm: number }[][];
}

/** A relay the bench speaks to, and how many utterances it has had (each goes to a stream of its own). */
class Speaker {
  private spoken = 0;
  constructor(
    readonly child: BenchChild<{ url: string }>,
    private readonly key: string,
  ) {}

  /** One utterance on a stream, listener and connection of its own, as a new caller's comes. */
  utterance(): Promise<number> {
    return newCallerUtterance({ url: this.child.info.url, key: this.key }, `warm-${this.spoken++}`, SENTENCE);
  }
}

async function startSpeakers(ctx: BenchContext, runtime: Runtime, count: number): Promise<Speaker[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startRelay(ctx, runtime)));
  const children = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(children.map((child) => child.stop()));
    throw failed.reason;
  }
  return children.map((child) => new Speaker(child, ctx.adminKey));
}

/** The utterances that make relays warm: the first, then `warmRuns` more, each after the idle. */
async function warmUp(speakers: Speaker[], plan: WarmStartPlan): Promise<void> {
  for (const speaker of speakers) await speaker.utterance();
  for (let i = 0; i < plan.warmRuns; i++) {
    await sleep(plan.idleMs);
    for (const speaker of speakers) await speaker.utterance();
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

async function untilQuiet(relays: BenchChild<unknown>[]): Promise<number> {
  const started = performance.now();
  const deadline = started + QUIET_MAX_MS;
  let before = await Promise.all(relays.map((relay) => relay.usage()));
  while (performance.now() < deadline) {
    await sleep(QUIET_WINDOW_MS);
    const now = await Promise.all(relays.map((relay) => relay.usage()));
    const busiestMs = Math.max(...now.map((usage, i) => usage.cpuUs - before[i]!.cpuUs)) / 1000;
    before = now;
    if (busiestMs < QUIET_CPU_MS) break;
  }
  return performance.now() - started;
}

async function startRelay(ctx: BenchContext, runtime: Runtime) {
  const port = await freePort();
  return spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
}

/** Each fresh relay's first utterance back to back with a warm relay's, after the same idle. */
async function firstBesideWarm(fresh: Speaker[], warm: Speaker[], round: number, idleMs: number): Promise<{ first: number; warm: number }[]> {
  await sleep(idleMs);
  const readings: { first: number; warm: number }[] = [];
  for (const [i, speaker] of fresh.entries()) {
    const beside = warm[i % warm.length]!;
    if (round % 2 === 0) {
      const first = await speaker.utterance();
      readings.push({ first, warm: await beside.utterance() });
    } else {
      const warmMs = await beside.utterance();
      readings.push({ first: await speaker.utterance(), warm: warmMs });
    }
  }
  return readings;
}

const stopAll = (speakers: Speaker[]) => Promise.all(speakers.map((speaker) => speaker.child.stop()));

export async function measureWarmStart(ctx: BenchContext, runtime: Runtime, plan: WarmStartPlan): Promise<WarmStartResult> {
  const readings: { first: number; warm: number }[][] = [];
  const pairs: RoundPair[] = [];
  const quietMs: number[] = [];
  // Warm relays serve every round: making each round's fresh relays warm for the next cost a round ~5 s of idles.
  const warm = await startSpeakers(ctx, runtime, plan.relays);
  try {
    await untilQuiet(warm.map((speaker) => speaker.child));
    await warmUp(warm, plan);
    for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
      const fresh = await startSpeakers(ctx, runtime, plan.relays);
      try {
        quietMs.push(await untilQuiet([...fresh, ...warm].map((speaker) => speaker.child)));
        const beside = await firstBesideWarm(fresh, warm, round, plan.idleMs);
        readings.push(beside);
        pairs.push({ relay: median(beside.map((r) => r.first)), baseline: median(beside.map((r) => r.warm)), load: os.loadavg()[0]! });
      } finally {
        await stopAll(fresh);
      }
    }
  } finally {
    await stopAll(warm);
  }
  const first = compare(pairs, 'ratio', FIRST_UTTERANCE_LIMIT);
  ctx.log(`  warm start (${runtime}, ${plan.relays} fresh relays a round beside warm ones, quiet ${(median(quietMs) / 1000).toFixed(1)} s after start, idle ${plan.idleMs} ms before each): first ${first.relay.median.toFixed(1)} ms, warm ${first.baseline.median.toFixed(1)} ms; ratio per round ${pairs.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}`);
  return { runtime, idleMs: plan.idleMs, first, readings };
}

export function warmStartRows(result: WarmStartResult): Row[] {
  return [
    comparedRow(
      {
        item: 4,
        figure: `text in → first audio, first utterance after start and ${(result.idleMs / 1000).toFixed(1)} s idle (${result.runtime}, espeak)`,
        unit: 'ms',
        baselineName: 'a warm relay, same moments',
        target: `≤ ${FIRST_UTTERANCE_LIMIT}× warm`,
      },
      result.first,
    ),
  ];
}
