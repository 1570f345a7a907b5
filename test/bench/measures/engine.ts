/**
 * The embedded engine: real-time factor and time to first audio for a sentence and a paragraph, through
 * the provider (in this process) and end to end through a relay (text in → first audio at a listener),
 * against the bare engine synthesizing the same text.
 */
import { type AudioFormat, secondsOf } from '../../../shared/audio-format.ts';
import { EspeakProvider } from '../../../worker/providers/espeak/provider.ts';
import { ESPEAK_SAMPLE_RATE, loadEspeakEngine } from '../../../worker/providers/espeak/engine.ts';
import { type Runtime, spawnChild } from '../child-process.ts';
import { freePort } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { untilReady } from '../../support/readiness.ts';
import { ProbeListener } from '../probe-listener.ts';
import { comparedRow, row, type Row, verdict } from '../report.ts';
import { median, summarize, type Summary } from '../stats.ts';
import { FIRST_UTTERANCE_LIMIT, timeToFirstAudio } from './first-audio.ts';
import { type FirstOnceReady, type FirstOnceReadyPlan, measureFirstOnceReady } from './first-once-ready.ts';

export const SENTENCE = 'The kettle is on, and the tea will be ready in five minutes.';
export const PARAGRAPH = [
  'The relay takes text from anything that speaks HTTP and turns it into speech.',
  'Every listener of a stream hears the same words at the same moment, whatever format it asked for.',
  'Audio is released only a little ahead of real time, so a cancel stops what has not been heard.',
  'A slow listener is dropped before it can hold the others back.',
  'Nothing here waits for the whole text before the first words are spoken.',
].join(' ');

const ENGINE_FORMAT: AudioFormat = { encoding: 'pcm_f32le', sampleRate: ESPEAK_SAMPLE_RATE };

interface TextFigures {
  text: 'sentence' | 'paragraph';
  characters: number;
  audioSeconds: number;
  engine: { firstChunkMs: Summary; totalMs: Summary; rtf: number; firstSentenceMs: Summary };
  provider: { firstAudioMs: Summary; totalMs: Summary; rtf: number };
  relay: { firstAudioMs: Summary };
}

export interface EngineResult {
  runtime: Runtime;
  loadMs: number;
  /** The very first synthesis in a fresh process: WebAssembly not yet optimised. */
  coldSynthesisMs: number;
  texts: TextFigures[];
  /** The first utterance of fresh relays once each answered ready (after its warm-up), each beside this relay's. */
  firstOnceReady: FirstOnceReady | null;
}

/** The bare engine: synthesize() with a chunk callback, timed from the call. */
async function timeEngine(text: string, runs: number) {
  const engine = await loadEspeakEngine();
  const first: number[] = [];
  const total: number[] = [];
  let audioSeconds = 0;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    let firstAt = 0;
    const { samples } = engine.synthesize(text, undefined, () => {
      firstAt ||= performance.now();
    });
    const ended = performance.now();
    first.push(firstAt - started);
    total.push(ended - started);
    audioSeconds = samples.length / ESPEAK_SAMPLE_RATE;
  }
  return { first, total, audioSeconds };
}

/** The provider as the stream drives it: one context, the whole text pushed, then end; events until done. */
async function timeProvider(provider: EspeakProvider, text: string, runs: number) {
  const first: number[] = [];
  const total: number[] = [];
  let audioSeconds = 0;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const context = provider.openContext({ format: ENGINE_FORMAT, timestamps: true, buffering: 'relay' });
    // The stream pushes sentence-sized pieces under relay buffering; the provider speaks each at once.
    for (const piece of text.match(/[^.!?]+[.!?]+\s*/g) ?? [text]) context.push(piece);
    context.end();
    let firstAt = 0;
    let bytes = 0;
    for await (const event of context.events) {
      if (event.type === 'audio') {
        firstAt ||= performance.now();
        bytes += event.data.byteLength;
      }
    }
    total.push(performance.now() - started);
    first.push(firstAt - started);
    audioSeconds = secondsOf(ENGINE_FORMAT, bytes);
  }
  return { first, total, audioSeconds };
}

/** Fresh relays whose first utterance is timed, a round at a time: 12 cost ~45 s (a relay's start, ~3 s each). */
const FRESH_RELAYS: Record<BenchContext['mode'], FirstOnceReadyPlan> = { smoke: { rounds: 2, relays: 1 }, full: { rounds: 4, relays: 3 } };

export async function measureEngine(ctx: BenchContext, runtime: Runtime): Promise<EngineResult> {
  const runs = ctx.mode === 'smoke' ? 2 : 15;
  const loadStarted = performance.now();
  const engine = await loadEspeakEngine();
  const loadMs = performance.now() - loadStarted;
  const coldStarted = performance.now();
  engine.synthesize(SENTENCE);
  const coldSynthesisMs = performance.now() - coldStarted;
  // Warm the engine the way a running relay is warm, then measure.
  await timeEngine(PARAGRAPH, ctx.mode === 'smoke' ? 1 : 5);

  const provider = new EspeakProvider();
  await provider.ready();

  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  const texts: TextFigures[] = [];
  let firstOnceReady: FirstOnceReady | null = null;
  try {
    await untilReady(() => fetch(new URL('/readyz', relay.info.url)));
    const target = { url: relay.info.url, key: ctx.adminKey };
    // Each utterance on a stream of its own: a stream that just cancelled one still counts the audio it
    // released as playing, and would hold the next back by up to a chunk (the playout lead rule).
    let streams = 0;
    for (const [name, text] of [['sentence', SENTENCE], ['paragraph', PARAGRAPH]] as const) {
      const relayFirst: number[] = [];
      for (let i = 0; i < runs + 1; i++) {
        const stream = `engine-${++streams}`;
        const listener = await ProbeListener.open(`${relay.info.url.replace(/^http/, 'ws')}/v1/streams/${stream}/listen`, {
          authorization: `Bearer ${ctx.adminKey}`,
        });
        const ms = await timeToFirstAudio(target, stream, listener, text);
        listener.close();
        // The first of each text warms this relay for it.
        if (i > 0) relayFirst.push(ms);
      }
      const bare = await timeEngine(text, runs);
      const firstSentence = await timeEngine(text.match(/[^.!?]+[.!?]+/)?.[0] ?? text, runs);
      const ctxTimes = await timeProvider(provider, text, runs);
      texts.push({
        text: name,
        characters: text.length,
        audioSeconds: bare.audioSeconds,
        engine: {
          firstChunkMs: summarize(bare.first),
          totalMs: summarize(bare.total),
          rtf: bare.audioSeconds / (median(bare.total) / 1000),
          firstSentenceMs: summarize(firstSentence.total),
        },
        provider: { firstAudioMs: summarize(ctxTimes.first), totalMs: summarize(ctxTimes.total), rtf: ctxTimes.audioSeconds / (median(ctxTimes.total) / 1000) },
        relay: { firstAudioMs: summarize(relayFirst) },
      });
      ctx.log(`  engine ${name}: relay first audio p50 ${median(relayFirst).toFixed(1)} ms, provider rtf ${(ctxTimes.audioSeconds / (median(ctxTimes.total) / 1000)).toFixed(0)}×`);
    }
    firstOnceReady = await measureFirstOnceReady(ctx, runtime, target, SENTENCE, FRESH_RELAYS[ctx.mode]);
  } finally {
    await relay.stop();
    await provider.close();
  }
  return { runtime, loadMs, coldSynthesisMs, texts, firstOnceReady };
}

export function engineRows(result: EngineResult): Row[] {
  const rows: Row[] = [];
  for (const t of result.texts) {
    rows.push(
      row({
        item: 4,
        figure: `espeak real-time factor, ${t.text} (${t.audioSeconds.toFixed(1)} s audio)`,
        unit: '× real time',
        relay: t.provider.rtf,
        baseline: t.engine.rtf,
        baselineName: 'bare engine',
        target: '≥ 100×',
        verdict: verdict(t.provider.rtf >= 100),
      }),
      row({
        item: 4,
        figure: `time to first audio, ${t.text}, text in → listener (${result.runtime}) p50`,
        unit: 'ms',
        relay: t.relay.firstAudioMs.p50,
        baseline: t.engine.firstSentenceMs.p50,
        baselineName: 'bare engine, first sentence',
        ...(t.text === 'sentence' ? { target: '≤ 30 ms', verdict: verdict(t.relay.firstAudioMs.p50 <= 30) } : {}),
      }),
    );
  }
  const ready = result.firstOnceReady;
  if (ready && ready.first.rounds.length > 0) {
    rows.push(
      comparedRow(
        {
          item: 4,
          figure: `time to first audio, first utterance once the relay is ready (${result.runtime})`,
          unit: 'ms',
          baselineName: 'a warm relay, same moments',
          target: `≤ ${FIRST_UTTERANCE_LIMIT}× warm`,
          note: `ready ${median(ready.readyAfterMs).toFixed(0)} ms after listening (its warm-up; median); engine load ${result.loadMs.toFixed(0)} ms at start; first synthesis in a fresh process ${result.coldSynthesisMs.toFixed(0)} ms`,
        },
        ready.first,
      ),
    );
  }
  return rows;
}
