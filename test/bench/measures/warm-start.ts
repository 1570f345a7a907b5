/**
 * Warm start: the first utterance after the relay starts against a warm relay's, in the same moments. Each round
 * starts a few fresh relays (espeak) together and waits until each answers ready (its rehearsal and the engine's
 * warm-up over) and every relay, fresh and warm, is quiet. Then each warm relay speaks an uncounted utterance, so
 * both sides come to the round from work, and after an idle of `idleMs` (a deployed relay is idle before a caller
 * comes) it times text in → first audio of one utterance on each fresh relay, each back to back with the same
 * utterance on a warm relay (which of the two goes first alternates by pair and by round), every pair once the
 * relays are quiet again. Every utterance of a round speaks the round's sentence, one neither side has spoken. The
 * warm relays are started once, before the first round, and made warm by `warmRuns` utterances after their first,
 * each after the same idle; they serve every round, and the fresh relays stop after theirs. A round's figure is
 * the median of its pairs' ratios. A relay that warms its engine and its code paths at start gives ~1×.
 */
import { type BenchChild, type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { compare, type Comparison, type RoundPair } from '../interleave.ts';
import { comparedRow, type Row } from '../report.ts';
import { median } from '../stats.ts';
import { SENTENCE } from './engine.ts';
import { FIRST_UTTERANCE_LIMIT, newCallerUtterance } from './first-audio.ts';
import { NEW_SENTENCES } from './first-once-ready.ts';
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
  /**
   * How long the relays stay idle before a round's first pair (once the fresh ones' start-up work and the warm ones'
   * uncounted utterance are over), and before each of the warm relays' utterances that make them warm.
   */
  idleMs: number;
}

/** One pair of a round: the fresh relay's first utterance, the warm one's beside it, and the moment's load. */
export interface WarmStartReading {
  first: number;
  warm: number;
  /** Whether the fresh relay spoke first. */
  freshFirst: boolean;
  /** 1-minute load average just before the pair. */
  load: number;
  /** How long the relays took to be quiet again before this pair. */
  quietMs: number;
}

export interface WarmStartResult {
  runtime: Runtime;
  idleMs: number;
  first: Comparison;
  /** Every first utterance and the warm one beside it, round after round. */
  readings: WarmStartReading[][];
  /** Each round's fresh relays: from their start to all answering ready and every relay quiet (ms). */
  startMs: number[];
}

/** A relay the bench speaks to, and how many utterances it has had (each goes to a stream of its own). */
class Speaker {
  private spoken = 0;
  constructor(
    readonly child: BenchChild<{ url: string }>,
    private readonly key: string,
  ) {}

  /** One utterance on a stream, listener and connection of its own, as a new caller's comes. */
  utterance(text = SENTENCE): Promise<number> {
    return newCallerUtterance(this.target, `warm-${this.spoken++}`, text);
  }

  get target() {
    return { url: this.child.info.url, key: this.key };
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
 * A relay is quiet when it used under QUIET_CPU_MS in a window, QUIET_WINDOWS windows running: started together
 * at load 15, three relays' engine warm-ups still ran past 5 s, and a first utterance then waited for a warm-up
 * sentence to end. Fresh relays must answer ready too: the engine rests 500 ms before its warm-up's last piece, and
 * six relays started together at load 8 read quiet for a window while two of them rested there. Readiness is asked
 * once a window: asked every 20 ms, six relays took 9.1-10.3 s to answer ready against 7.2 (load 8-11).
 */
const QUIET_WINDOW_MS = 250;
const QUIET_CPU_MS = 10;
const QUIET_WINDOWS = 2;
/** A bound, not a wait: an idle relay is quiet within a second of its warm-up. */
const QUIET_MAX_MS = 60_000;

async function untilQuiet(relays: Speaker[], { windows = QUIET_WINDOWS, fresh = [] as Speaker[] } = {}): Promise<number> {
  const started = performance.now();
  const deadline = started + QUIET_MAX_MS;
  const usage = () => Promise.all(relays.map((relay) => relay.child.usage()));
  let before = await usage();
  for (let quiet = 0; quiet < windows && performance.now() < deadline; ) {
    await sleep(QUIET_WINDOW_MS);
    const now = await usage();
    const busiestMs = Math.max(...now.map((usage, i) => usage.cpuUs - before[i]!.cpuUs)) / 1000;
    before = now;
    quiet = busiestMs < QUIET_CPU_MS && (await allReady(fresh)) ? quiet + 1 : 0;
  }
  return performance.now() - started;
}

async function allReady(relays: Speaker[]): Promise<boolean> {
  const answers = await Promise.all(
    relays.map(async (relay) => {
      const answer = await fetch(new URL('/readyz', relay.target.url));
      await answer.arrayBuffer();
      return answer.status;
    }),
  );
  return answers.every((status) => status === 200);
}

/**
 * A Bun relay listens on a port picked free beforehand, which another process on the machine can take first (one
 * of 42 did in a run beside other benches): a start that found its port in use tries another.
 */
const START_ATTEMPTS = 3;

async function startRelay(ctx: BenchContext, runtime: Runtime, attempt = 1): Promise<BenchChild<{ url: string }>> {
  const port = await freePort();
  try {
    return await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
      runtime,
      env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
    });
  } catch (error) {
    if (attempt >= START_ATTEMPTS || !String(error).includes(`port ${port} in use`)) throw error;
    return startRelay(ctx, runtime, attempt + 1);
  }
}

/** Starts a round's fresh relays and waits until each answers ready and every relay is quiet. */
async function startFresh(ctx: BenchContext, runtime: Runtime, count: number, warm: Speaker[]) {
  const started = performance.now();
  const fresh = await startSpeakers(ctx, runtime, count);
  try {
    await untilQuiet([...fresh, ...warm], { fresh });
    return { fresh, startMs: performance.now() - started };
  } catch (error) {
    await stopAll(fresh);
    throw error;
  }
}

/**
 * Each fresh relay's first utterance back to back with a warm relay's, both of `text`, after the same idle: the
 * warm relays speak one uncounted utterance each (of another sentence) as the idle starts, and every pair waits
 * for the relays to be quiet after the one before it.
 */
async function firstBesideWarm(fresh: Speaker[], warm: Speaker[], round: number, text: string, idleMs: number): Promise<WarmStartReading[]> {
  const all = [...fresh, ...warm];
  for (const speaker of warm) await speaker.utterance();
  await untilQuiet(all, { windows: 1 });
  await sleep(idleMs);
  const readings: WarmStartReading[] = [];
  for (const [i, speaker] of fresh.entries()) {
    const quietMs = i === 0 ? 0 : await untilQuiet(all, { windows: 1 });
    const beside = warm[i % warm.length]!;
    const freshFirst = (round + i) % 2 === 0;
    const load = os.loadavg()[0]!;
    if (freshFirst) {
      const first = await speaker.utterance(text);
      readings.push({ first, warm: await beside.utterance(text), freshFirst, load, quietMs });
    } else {
      const warmMs = await beside.utterance(text);
      readings.push({ first: await speaker.utterance(text), warm: warmMs, freshFirst, load, quietMs });
    }
  }
  return readings;
}

const stopAll = (speakers: Speaker[]) => Promise.all(speakers.map((speaker) => speaker.child.stop()));

export async function measureWarmStart(ctx: BenchContext, runtime: Runtime, plan: WarmStartPlan): Promise<WarmStartResult> {
  const readings: WarmStartReading[][] = [];
  const pairs: RoundPair[] = [];
  const startMs: number[] = [];
  // Warm relays serve every round: making each round's fresh relays warm for the next cost a round ~5 s of idles.
  const warm = await startSpeakers(ctx, runtime, plan.relays);
  try {
    await untilQuiet(warm, { fresh: warm });
    await warmUp(warm, plan);
    for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
      const { fresh, startMs: started } = await startFresh(ctx, runtime, plan.relays, warm);
      startMs.push(started);
      try {
        const beside = await firstBesideWarm(fresh, warm, round, NEW_SENTENCES[round % NEW_SENTENCES.length]!, plan.idleMs);
        readings.push(beside);
        pairs.push({
          relay: median(beside.map((r) => r.first)),
          baseline: median(beside.map((r) => r.warm)),
          load: os.loadavg()[0]!,
          figure: median(beside.map((r) => r.first / r.warm)),
        });
      } finally {
        await stopAll(fresh);
      }
    }
  } finally {
    await stopAll(warm);
  }
  const first = compare(pairs, 'ratio', FIRST_UTTERANCE_LIMIT);
  const seconds = (ms: number[]) => (median(ms) / 1000).toFixed(1);
  ctx.log(`  warm start (${runtime}, ${plan.relays} fresh relays a round beside warm ones, ready and quiet ${seconds(startMs)} s after start, idle ${plan.idleMs} ms before the first pair): first ${first.relay.median.toFixed(1)} ms, warm ${first.baseline.median.toFixed(1)} ms; ratio per round ${pairs.map((p) => p.figure!.toFixed(2)).join(' ')}`);
  return { runtime, idleMs: plan.idleMs, first, readings, startMs };
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
