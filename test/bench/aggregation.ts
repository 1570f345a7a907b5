/**
 * What text aggregation does to an LLM token stream, measured at the provider boundary with the embedded
 * engine: time to first audio, synthesis calls, and the stalls a listener would hear if playback started
 * with the first audio. Strategies: every token on its own, the relay's default (sentences, long clauses
 * cut at a comma, a 500 ms idle flush), whole sentences only, and the whole reply at once.
 *
 *   node --import tsx test/bench/aggregation.ts [--runs N] [--json]
 */
import { secondsOf } from '../../shared/audio-format.ts';
import { EspeakProvider } from '../../worker/providers/espeak/provider.ts';
import { type AggregatorOptions, SentenceAggregator } from '../../worker/core/sentence-aggregator.ts';

const REPLY =
  'Sure, here is what I found. The relay takes text from anything that speaks HTTP, cuts it into sentences, ' +
  'and hands each one to the speech engine while the model is still writing the next. Listeners hear the first ' +
  'words almost at once, and the rest follows without gaps, as long as the model keeps ahead of the voice.';
/** Word-piece tokens with their leading space, as chat-completion streams send them. */
const TOKENS = REPLY.match(/\s?[^\s]{1,4}/g) ?? [REPLY];
/** Token rates: a fast hosted model, and a slow one (or a busy one). */
const RATES = [{ name: '50 tok/s', gapMs: 20 }, { name: '10 tok/s', gapMs: 100 }];
// The relay's defaults (RELAY_IDLE_FLUSH_MS and the aggregator's), so the "clauses" row is what the relay does.
const IDLE_FLUSH_MS = 500;
// A gap shorter than this is inaudible jitter, not a stall.
const STALL_THRESHOLD_MS = 20;

type Strategy = { name: string; aggregate: false | 'whole' | AggregatorOptions };
const STRATEGIES: Strategy[] = [
  { name: 'tokens (no aggregation)', aggregate: false },
  { name: 'clauses (relay default)', aggregate: {} },
  { name: 'sentences only', aggregate: { clauseChars: Number.POSITIVE_INFINITY, maxChars: Number.POSITIVE_INFINITY } },
  { name: 'whole reply', aggregate: 'whole' },
];

interface Run {
  firstAudioMs: number;
  pieces: number;
  stalls: number;
  stallMs: number;
  audioSeconds: number;
}

async function runOnce(provider: EspeakProvider, strategy: Strategy, gapMs: number): Promise<Run> {
  const format = provider.preferredFormat;
  const context = provider.openContext({ format, buffering: 'relay' });
  const arrivals: Array<{ at: number; seconds: number }> = [];
  const start = performance.now();
  const consumed = (async () => {
    for await (const event of context.events) {
      if (event.type === 'audio') arrivals.push({ at: performance.now() - start, seconds: secondsOf(format, event.data.byteLength) });
      if (event.type === 'done' || event.type === 'error') return;
    }
  })();

  let pieces = 0;
  const push = (piece: string) => {
    if (piece.trim() === '') return;
    pieces++;
    context.push(`${piece} `);
  };
  const aggregator = strategy.aggregate && strategy.aggregate !== 'whole' ? new SentenceAggregator(strategy.aggregate) : null;
  let whole = '';
  let idle: ReturnType<typeof setTimeout> | undefined;
  for (const token of TOKENS) {
    clearTimeout(idle);
    if (!strategy.aggregate) push(token.trim());
    else if (strategy.aggregate === 'whole') whole += token;
    else {
      for (const piece of aggregator!.push(token)) push(piece);
      idle = setTimeout(() => push(aggregator!.flush()), IDLE_FLUSH_MS);
    }
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  clearTimeout(idle);
  if (aggregator) push(aggregator.flush());
  if (strategy.aggregate === 'whole') push(whole.trim());
  context.end();
  await consumed;

  // Playback starts with the first audio and plays in real time; every wait for audio is a stall.
  let clock = arrivals[0]!.at;
  let stalls = 0;
  let stallMs = 0;
  for (const { at, seconds } of arrivals) {
    if (at - clock > STALL_THRESHOLD_MS) {
      stalls++;
      stallMs += at - clock;
    }
    clock = Math.max(clock, at) + seconds * 1000;
  }
  return { firstAudioMs: arrivals[0]!.at, pieces, stalls, stallMs, audioSeconds: arrivals.reduce((n, a) => n + a.seconds, 0) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
  const provider = new EspeakProvider();
  await provider.ready();
  // Warm the engine (first synthesis loads voice data) so the first strategy is not penalised.
  await runOnce(provider, STRATEGIES[3]!, 0);

  const results: Array<{ rate: string; strategy: string } & Run> = [];
  for (const rate of RATES) {
    for (const strategy of STRATEGIES) {
      const samples: Run[] = [];
      for (let i = 0; i < runs; i++) samples.push(await runOnce(provider, strategy, rate.gapMs));
      results.push({
        rate: rate.name,
        strategy: strategy.name,
        firstAudioMs: median(samples.map((s) => s.firstAudioMs)),
        pieces: median(samples.map((s) => s.pieces)),
        stalls: median(samples.map((s) => s.stalls)),
        stallMs: median(samples.map((s) => s.stallMs)),
        audioSeconds: median(samples.map((s) => s.audioSeconds)),
      });
    }
  }
  await provider.close();

  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ tokens: TOKENS.length, characters: REPLY.length, runs, results }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${TOKENS.length} tokens, ${REPLY.length} characters, median of ${runs} runs, embedded engine\n\n`);
  process.stdout.write('| rate | strategy | first audio ms | synth calls | stalls | stalled ms | audio s |\n|---|---|---:|---:|---:|---:|---:|\n');
  for (const r of results) {
    process.stdout.write(`| ${r.rate} | ${r.strategy} | ${r.firstAudioMs.toFixed(0)} | ${r.pieces} | ${r.stalls} | ${r.stallMs.toFixed(0)} | ${r.audioSeconds.toFixed(2)} |\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`aggregation bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
