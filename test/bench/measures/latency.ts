/**
 * Relay-added latency: text in → first audio byte at a listener through the relay, against a client reading
 * the same provider (the Cartesia emulator, fixed synthesis delay) directly, at 1 to 1,000 concurrent streams.
 * Relay and direct are measured in the same seconds: every worker alternates a relay utterance and a direct one, so
 * a busy neighbour falls on both alike. Each round's p50 and p99 on both sides give one added-latency reading, and
 * the figure is the median of those with its spread.
 */
import os from 'node:os';
import { join } from 'node:path';
import { bytesPerSecond } from '../../../shared/audio-format.ts';
import { CartesiaDirect } from '../cartesia-direct.ts';
import { type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep, within } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { ProbeListener } from '../probe-listener.ts';
import { row, type Row, verdict } from '../report.ts';
import { SpeakConnection } from '../speak-connection.ts';
import type { AudioSource } from '../sources.ts';
import { summarize, type Summary } from '../stats.ts';
import { type Comparison, compare, comparePooledQuantile, type SampledRound } from '../interleave.ts';
import { comparedRow } from '../report.ts';
import type { Curve } from '../plot.ts';

export const LATENCY_TEXT = 'Hello there.';
// No single utterance may take longer than this; a stuck one fails the run rather than hanging it.
const UTTERANCE_TIMEOUT_MS = 15_000;

export interface LatencyPlan {
  concurrency: number[];
  /** Interleaved relay/direct rounds per concurrency. */
  rounds: number;
  blockMs: number;
  /**
   * A longer block where a target is judged: the pooled p99 there rests on its largest ~1 % of samples, so its spread
   * narrows with more of them, and a longer block buys them for less time than more rounds (each round also waits out
   * its pairs' last pauses, 10 s on average at 1,000 streams).
   */
  targetLevels?: { from: number; blockMs: number };
  /** Mean pause between one worker's utterances, by concurrency (keeps the provider's load sane). */
  pauseMs(concurrency: number): number;
}

export interface LatencyLevel {
  concurrency: number;
  relay: Summary;
  direct: Summary;
  addedP50: number;
  addedP99: number;
  /** Per-round p50, relay against direct. */
  p50: Comparison;
  /** p99 of the samples pooled over the rounds, relay against direct, with a bootstrap over rounds as its spread. */
  p99: Comparison;
  /** Per-round p99s (each from one round's ~100 samples, nearly its second-largest), kept for comparison. */
  p99PerRound: Comparison;
  relayRssBytes: number;
}

export interface LatencyResult {
  runtime: Runtime;
  synthesisDelayMs: number;
  text: string;
  levels: LatencyLevel[];
}

const jitter = (mean: number) => mean * 2 * Math.random();

export async function measureLatency(
  ctx: BenchContext,
  runtime: Runtime,
  source: AudioSource,
  synthesisDelayMs: number,
  plan: LatencyPlan,
): Promise<LatencyResult> {
  if (!source.providerWssUrl || !source.apiKey) throw new Error('relay-added latency needs the Cartesia emulator as its provider');
  const providerWssUrl = source.providerWssUrl;
  const apiKey = source.apiKey;
  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  const target = { url: relay.info.url, key: ctx.adminKey };
  const rate = bytesPerSecond(source.format);
  const levels: LatencyLevel[] = [];
  try {
    for (const concurrency of plan.concurrency) {
      if (ctx.outOfTime()) break;
      // A stream is reused only once its last audio has played out: the playout would otherwise hold the
      // next utterance back (correctly — its listeners are still hearing the last one), which is not latency.
      const streamsPerWorker = concurrency === 1 ? 16 : 2;
      const workers = await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          const streams = await Promise.all(
            Array.from({ length: streamsPerWorker }, async (_, s) => {
              const name = `latency-${concurrency}-${w}-${s}`;
              const listener = await ProbeListener.open(`${relay.info.url.replace(/^http/, 'ws')}/v1/streams/${name}/listen`, {
                authorization: `Bearer ${ctx.adminKey}`,
              });
              return { name, listener, last: 0, readyAt: 0 };
            }),
          );
          const direct = await CartesiaDirect.open(providerWssUrl, apiKey, source.format);
          return { streams, direct, speaker: new SpeakConnection(target), next: 0 };
        }),
      );
      const relaySamples: number[] = [];
      const directSamples: number[] = [];
      const pause = plan.pauseMs(concurrency);

      type Worker = (typeof workers)[number];
      const relayOnce = async (worker: Worker, samples: number[] | null) => {
        const stream = worker.streams[worker.next++ % worker.streams.length]!;
        if (stream.readyAt > performance.now()) await sleep(stream.readyAt - performance.now());
        let sentAt = 0;
        const audio = stream.listener.nextAudio(stream.last);
        const [timing, answer] = await within(
          Promise.all([audio, worker.speaker.speak(stream.name, LATENCY_TEXT, () => (sentAt = performance.now()))]),
          UTTERANCE_TIMEOUT_MS,
          'an utterance through the relay',
        );
        if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
        samples?.push(timing.firstAudioAt - sentAt);
        await within(stream.listener.ended(timing.utterance), UTTERANCE_TIMEOUT_MS, 'the end of an utterance');
        stream.last = timing.utterance;
        stream.readyAt = timing.firstAudioAt + (timing.audioBytes / rate) * 1000 + 20;
        stream.listener.forget(timing.utterance);
      };
      const directOnce = async (worker: Worker, samples: number[] | null) => {
        const { first, done } = worker.direct.speak(LATENCY_TEXT);
        const timing = await within(first, UTTERANCE_TIMEOUT_MS, 'a direct utterance');
        samples?.push(timing.firstAudioAt - timing.sentAt);
        await within(done, UTTERANCE_TIMEOUT_MS, 'the end of a direct utterance');
      };
      // Every worker alternates its relay and direct utterances (which goes first flips each turn), so at any
      // moment about half the workers are on each path: both meet the same load, second by second.
      const pairedBlock = (until: number, samples: { relay: number[]; direct: number[] } | null) =>
        Promise.all(
          workers.map(async (worker, w) => {
            // A pair starts only before `until`; a pause that would end past it is not waited out (at 1,000 streams
            // such pauses, 10 s on average, held each round open twice as long as its block without a sample).
            for (let turn = w; ; turn++) {
              const pauseMs = jitter(pause);
              if (performance.now() + pauseMs >= until) return;
              await sleep(pauseMs);
              const relayFirst = turn % 2 === 0;
              await (relayFirst ? relayOnce(worker, samples?.relay ?? null) : directOnce(worker, samples?.direct ?? null));
              await sleep(jitter(pause));
              await (relayFirst ? directOnce(worker, samples?.direct ?? null) : relayOnce(worker, samples?.relay ?? null));
            }
          }),
        );

      // Warm both paths (JIT, pools, TLS sessions) before anything is recorded.
      await pairedBlock(performance.now() + Math.min(2000, plan.blockMs), null);
      let relayRssBytes = 0;
      const perRound: Array<{ relay: Summary; direct: Summary; load: number }> = [];
      const sampled: SampledRound[] = [];
      const levelBlockMs = plan.targetLevels && concurrency >= plan.targetLevels.from ? plan.targetLevels.blockMs : plan.blockMs;
      for (let round = 0; round < plan.rounds; round++) {
        // Both paths in one block, twice as long: as many samples a side as one block each gave.
        const blockMs = 2 * levelBlockMs;
        const profiled = round === 0 && ctx.profileDir && runtime === 'node' ? relay.call('profile', { ms: blockMs, file: join(ctx.profileDir, `relay-latency-${concurrency}.cpuprofile`) }) : null;
        const samples = { relay: [] as number[], direct: [] as number[] };
        await pairedBlock(performance.now() + blockMs, samples);
        await profiled;
        relaySamples.push(...samples.relay);
        directSamples.push(...samples.direct);
        const load = os.loadavg()[0]!;
        perRound.push({ relay: summarize(samples.relay), direct: summarize(samples.direct), load });
        sampled.push({ relay: samples.relay, baseline: samples.direct, load });
        relayRssBytes = Math.max(relayRssBytes, (await relay.usage()).rssBytes);
      }
      // Each round's quantiles on both sides, taken over the same seconds.
      const pairsOf = (pick: (s: Summary) => number) => perRound.map((r) => ({ relay: pick(r.relay), baseline: pick(r.direct), load: r.load }));
      const at100 = concurrency >= 100;
      for (const worker of workers) {
        worker.direct.close();
        worker.speaker.close();
        for (const stream of worker.streams) stream.listener.close();
      }
      const relaySummary = summarize(relaySamples);
      const directSummary = summarize(directSamples);
      const level: LatencyLevel = {
        concurrency,
        relay: relaySummary,
        direct: directSummary,
        addedP50: relaySummary.p50 - directSummary.p50,
        addedP99: relaySummary.p99 - directSummary.p99,
        p50: compare(pairsOf((s) => s.p50), 'difference', at100 ? 1 : null),
        p99: comparePooledQuantile(sampled, 0.99, at100 ? 5 : null),
        p99PerRound: compare(pairsOf((s) => s.p99), 'difference', null),
        relayRssBytes,
      };
      levels.push(level);
      ctx.log(
        `  latency at ${concurrency} stream(s): relay p50 ${relaySummary.p50.toFixed(2)} / p99 ${relaySummary.p99.toFixed(2)} ms (n=${relaySummary.n}), ` +
          `direct p50 ${directSummary.p50.toFixed(2)} / p99 ${directSummary.p99.toFixed(2)} ms (n=${directSummary.n}); ` +
          `added p50 per round ${level.p50.rounds.map((r) => (r.relay - r.baseline).toFixed(1)).join(' ')} ms; added p99 pooled ${level.p99.figure.median.toFixed(1)} ms ` +
          `(90% ${level.p99.figure.min.toFixed(1)}…${level.p99.figure.max.toFixed(1)}), per-round median ${level.p99PerRound.figure.median.toFixed(1)} ms`,
      );
    }
  } finally {
    await relay.stop();
  }
  return { runtime, synthesisDelayMs, text: LATENCY_TEXT, levels };
}

export function latencyRows(result: LatencyResult): Row[] {
  const rows: Row[] = [];
  for (const level of result.levels) {
    const at100 = level.concurrency >= 100;
    const label = `${level.concurrency} stream${level.concurrency === 1 ? '' : 's'}`;
    for (const [q, comparison, limit] of [['p50', level.p50, 1], ['p99', level.p99, 5]] as const) {
      rows.push(
        comparedRow(
          {
            item: 1,
            figure: `text in → first audio ${q}, ${label} (${result.runtime}); ${q === 'p99' ? 'pooled over rounds, ' : ''}spread is ms added`,
            unit: 'ms',
            baselineName: 'provider direct',
            ...(at100 ? { target: `added ≤ ${limit} ms` } : {}),
          },
          comparison,
        ),
      );
    }
  }
  return rows;
}

/** Added latency (median per-round relay − direct, bars min–max) against the number of streams. */
export function latencyCurves(result: LatencyResult): Curve[] {
  const point = (level: LatencyLevel, c: Comparison) => ({ x: level.concurrency, y: c.figure.median, lo: c.figure.min, hi: c.figure.max });
  const sides = (c: Comparison, side: 'relay' | 'baseline', level: LatencyLevel) => ({ x: level.concurrency, y: c[side].median, lo: c[side].min, hi: c[side].max });
  return [
    {
      id: 'latency',
      title: `Text in → first audio, relay vs provider read directly (${result.runtime})`,
      xLabel: 'concurrent streams',
      yLabel: 'ms (median of rounds)',
      series: [
        { name: 'relay p50', points: result.levels.map((l) => sides(l.p50, 'relay', l)) },
        { name: 'direct p50', points: result.levels.map((l) => sides(l.p50, 'baseline', l)) },
        { name: 'relay p99', points: result.levels.map((l) => sides(l.p99, 'relay', l)) },
        { name: 'direct p99', points: result.levels.map((l) => sides(l.p99, 'baseline', l)) },
      ],
    },
    {
      id: 'latency-added',
      title: `Latency added by the relay, per interleaved round (${result.runtime})`,
      xLabel: 'concurrent streams',
      yLabel: 'ms added (relay − direct)',
      series: [
        { name: 'added p50', points: result.levels.map((l) => point(l, l.p50)) },
        { name: 'added p99', points: result.levels.map((l) => point(l, l.p99)) },
      ],
    },
  ];
}
