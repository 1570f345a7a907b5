/**
 * The first utterance once a relay answers ready, as a balancer's first caller meets it: fresh relays started one
 * at a time, each spoken to once `/readyz` answers 200, back to back with the same utterance on a warm relay (a
 * sentence neither has spoken; which of the two goes first alternates by round), the warm one just after an
 * uncounted utterance of its own, as a relay in service. A round's figure is the median of its fresh relays' firsts
 * over the median of the warm ones.
 */
import { type Runtime, spawnChild } from '../child-process.ts';
import { freePort } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { compare, type Comparison, type RoundPair } from '../interleave.ts';
import { median } from '../stats.ts';
import { untilReady } from '../../support/readiness.ts';
import { FIRST_UTTERANCE_LIMIT, newCallerUtterance as utterance, type Target } from './first-audio.ts';
import os from 'node:os';

export interface FirstOnceReady {
  first: Comparison;
  /** Every first utterance and the warm one beside it, round after round. */
  readings: { first: number; warm: number }[][];
  /** From each fresh relay listening to `/readyz` answering 200 (its warm-up). */
  readyAfterMs: number[];
}

/**
 * A sentence a pair speaks on both sides, one neither relay has spoken: espeak-ng takes ~2.5 ms more to the first
 * chunk of a sentence it has not just spoken (in the relay, request to first audio, medians of 8 fresh relays at
 * load 2: a new sentence first 5.6 ms, then repeated 2.8; other new sentences after it 4.2), so a warm relay
 * repeating the bench's one sentence would be warm for that sentence, not as callers find it.
 */
export const NEW_SENTENCES = [
  'A yellow bicycle leaned against the old stone wall by the river.',
  'Seven quiet owls watched the harbour lights go out one by one.',
  'My neighbour bakes bread on Sundays and shares it with the street.',
  'The library closes early today because the heating has failed.',
  'Bring a warm coat, since the mountain path gets windy after noon.',
  'Our train was late again, so we walked the last mile in the rain.',
  'The orchestra tuned up while the ushers found the last empty seats.',
  'She painted the garden fence green and left the gate a bright red.',
  'Two lorries blocked the lane until the farmer moved his sheep along.',
  'The museum will show the maps of the coast from the eighteenth century.',
  'He forgot his umbrella at the cafe and went back for it at closing.',
  'Fresh snow covered the playground before the children came outside.',
];

export interface FirstOnceReadyPlan {
  rounds: number;
  /**
   * Fresh relays a round (rounds × relays: at most one per sentence of NEW_SENTENCES); a round's figure is the median of their first utterances over the median of the warm
   * ones beside them. One pair's ratio spread 0.22-3.38x over 9 pairs at load 3 (one reading varies 2-15 ms), and
   * an IQR of single pairs does not narrow with more of them.
   */
  relays: number;
}

/** Fresh relays one after another (none starts while another is measured), each beside `warm`. */
export async function measureFirstOnceReady(ctx: BenchContext, runtime: Runtime, warm: Target, primer: string, plan: FirstOnceReadyPlan): Promise<FirstOnceReady> {
  const pairs: RoundPair[] = [];
  const readings: { first: number; warm: number }[][] = [];
  const readyAfterMs: number[] = [];
  for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
    const beside: { first: number; warm: number }[] = [];
    for (let i = 0; i < plan.relays; i++) {
      const text = NEW_SENTENCES[(round * plan.relays + i) % NEW_SENTENCES.length]!;
      const { first, warmMs, readyMs } = await firstBesideWarm(ctx, runtime, warm, { primer, text }, round % 2 === 0, `${round}-${i}`);
      beside.push({ first, warm: warmMs });
      readyAfterMs.push(readyMs);
    }
    readings.push(beside);
    pairs.push({ relay: median(beside.map((r) => r.first)), baseline: median(beside.map((r) => r.warm)), load: os.loadavg()[0]! });
  }
  const first = compare(pairs, 'ratio', FIRST_UTTERANCE_LIMIT);
  ctx.log(`  first utterance once ready (${runtime}, ${plan.relays} fresh relays a round, ready ${(median(readyAfterMs) / 1000).toFixed(1)} s after listening): first ${first.relay.median.toFixed(2)} ms, warm ${first.baseline.median.toFixed(2)} ms; ratio per round ${pairs.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}`);
  return { first, readings, readyAfterMs };
}

/** Starts a fresh relay, and once it answers ready times its first utterance back to back with the warm relay's. */
async function firstBesideWarm(ctx: BenchContext, runtime: Runtime, warm: Target, { primer, text }: { primer: string; text: string }, freshFirst: boolean, name: string) {
  const port = await freePort();
  const child = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  try {
    const fresh = { url: child.info.url, key: ctx.adminKey };
    const readyFrom = performance.now();
    await untilReady(() => fetch(new URL('/readyz', fresh.url)));
    const readyMs = performance.now() - readyFrom;
    // The warm relay comes to the pair from work, as the fresh one comes from its warm-up and readiness answers:
    // it idled while the fresh one started, and on a warm relay an utterance after 2 s idle read 5.8 ms against
    // 4.5 back to back (medians of 16, load 3-6).
    await utterance(warm, `primer-${name}`, primer);
    if (freshFirst) {
      const first = await utterance(fresh, 'first', text);
      return { first, warmMs: await utterance(warm, `beside-${name}`, text), readyMs };
    }
    const warmMs = await utterance(warm, `beside-${name}`, text);
    return { first: await utterance(fresh, 'first', text), warmMs, readyMs };
  } finally {
    await child.stop();
  }
}
