/** The embedded offline provider: espeak-ng in WebAssembly behind the Cartesia-shaped context interface. */
import type { Voice } from '../../../shared/api.ts';
import { AsyncQueue } from '../../../shared/async-queue.ts';
import type { AudioFormat } from '../../../shared/audio-format.ts';
import type { WordTimestamp } from '../../../shared/protocol.ts';
import { RelayError } from '../../../shared/errors.ts';
import { sleep } from '../../../shared/timers.ts';
import { createTranscoder, type Transcoder } from '../../../shared/transcoder.ts';
import type { Logger } from '../../ops/logger.ts';
import { SentenceAggregator } from '../../core/sentence-aggregator.ts';
import type { StartWorker } from '../../runtime/contract.ts';
import { DEFAULT_ESPEAK_VOICE, ESPEAK_SAMPLE_RATE } from './engine.ts';
import { type EspeakSynthesizer, openEspeakSynthesizer } from './synthesizer.ts';
import { SETTLE_PAUSE_MS, WARM_UP_CUT_EVERY, WARM_UP_PIECES, WARM_UP_ROUNDS, WARM_UP_TEXT } from './warm-up-script.ts';
import type { ContextOptions, ProviderEvent, TTSContext, TTSProvider } from '../provider.ts';

/** What an espeak-ng voice id looks like (`en-gb`, `cmn-latn-pinyin`); anything else gets the default voice. */
const ESPEAK_VOICE_NAME = /^[a-z]{2,3}(-[a-z0-9]+)*$/i;
const ENGINE_FORMAT: AudioFormat = { encoding: 'pcm_f32le', sampleRate: ESPEAK_SAMPLE_RATE };

export interface EspeakProviderOptions {
  /** The runtime's worker threads: synthesis runs off the event loop. Without it, inline (with a warning). */
  startWorker?: StartWorker | undefined;
  logger?: Logger | undefined;
  /** The voice id a context gets when it names none (`TTS_VOICE`); espeak-ng's `en-us` when unset. */
  voice?: string | undefined;
  /** Speak WARM_UP_PIECES in the thread after start (default true; false keeps the engine's history to 'Ready.'). */
  backgroundWarmUp?: boolean | undefined;
}

/** What the stream asks of a context: the engine's format, word times, text in sentences. */
const WARM_UP_CONTEXT: ContextOptions = { format: ENGINE_FORMAT, timestamps: true, buffering: 'relay' };

export class EspeakProvider implements TTSProvider {
  readonly name = 'espeak';
  readonly upstreamFields = [] as const;
  readonly preferredFormat = ENGINE_FORMAT;
  readonly defaultVoice: string;
  private contexts = 0;
  private synthesizer: Promise<EspeakSynthesizer> | null = null;
  private closed = false;
  /** Stops the background warm-up: the first context, or close(). */
  private readonly warmUp = new AbortController();
  /** Settles when the background warm-up has ended (done, stopped by real work, or failed). */
  warmed: Promise<void> = Promise.resolve();

  constructor(private readonly options: EspeakProviderOptions = {}) {
    this.defaultVoice = options.voice ?? DEFAULT_ESPEAK_VOICE;
  }

  openContext(options: ContextOptions): TTSContext {
    this.warmUp.abort();
    const synthesizer = this.start();
    // Its failure reaches the context when it speaks (an `error` event); one that never speaks has none to report.
    synthesizer.catch(() => {});
    return new EspeakContext(`espeak-${++this.contexts}`, options, synthesizer, this.defaultVoice);
  }

  /**
   * Loads the engine (in its thread when there is one) once and speaks a word in the default voice, so
   * every context after that starts warm: voice data loaded, the WebAssembly and the JIT past their first run.
   */
  async ready(): Promise<void> {
    try {
      const synthesizer = await this.start();
      await synthesizer.synthesize(WARM_UP_TEXT, this.defaultVoice, () => {}, new AbortController().signal);
      if (synthesizer.threaded && this.options.backgroundWarmUp !== false) this.warmed = this.warmInBackground(synthesizer);
    } catch (cause) {
      throw new RelayError('upstream_unavailable', 'The embedded espeak-ng engine failed to load.', { cause });
    }
  }

  /**
   * Speaks the warm-up pieces one at a time in the engine's thread (never inline: that would block the event
   * loop), each through a context of its own as a real utterance's text goes, so that code warms too.
   */
  private async warmInBackground(synthesizer: EspeakSynthesizer): Promise<void> {
    const started = performance.now();
    const { signal } = this.warmUp;
    let pieces = 0;
    try {
      for (let round = 0; round < WARM_UP_ROUNDS; round++) {
        for (const piece of WARM_UP_PIECES) {
          if (signal.aborted) return;
          await this.rehearse(piece, Promise.resolve(synthesizer), signal, (pieces + 1) % WARM_UP_CUT_EVERY === 0);
          pieces++;
        }
      }
      // A piece after a pause, as a first utterance comes: on Bun the thread's first synthesis after the pieces took
      // 0.2-0.3 ms longer to its first chunk than the ones after it, whatever its text (timed in the thread).
      await sleep(SETTLE_PAUSE_MS, signal);
      if (!signal.aborted) await this.rehearse(WARM_UP_PIECES[0]!, Promise.resolve(synthesizer), signal, true);
    } catch (error) {
      this.options.logger?.warn('espeak-ng warm-up failed', { error });
    } finally {
      this.options.logger?.debug('espeak-ng warm-up ended', { pieces, ms: Math.round(performance.now() - started), stopped_by_work: signal.aborted });
    }
    // The one step of a first utterance's path the pieces do not take: its first call cost Bun 0.1 ms of a first
    // utterance against 0.007 later (stage timings). Nothing is pushed, so the engine speaks nothing.
    if (!signal.aborted) this.openContext(WARM_UP_CONTEXT).cancel();
  }

  /**
   * One piece through a context nobody hears, with `cutShort` cancelled at its first audio; `signal` cancels it
   * (the synthesizer then drops what is queued and the thread stops the sentence it is speaking).
   */
  private async rehearse(piece: string, synthesizer: Promise<EspeakSynthesizer>, signal: AbortSignal, cutShort: boolean): Promise<void> {
    const context = new EspeakContext('espeak-warm-up', WARM_UP_CONTEXT, synthesizer, this.defaultVoice);
    const cancel = () => context.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    try {
      context.push(piece);
      context.end();
      for await (const event of context.events) {
        if (event.type === 'error') throw event.error;
        if (event.type === 'audio' && cutShort) return context.cancel();
      }
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  }

  async voices(): Promise<Voice[]> {
    try {
      const { voices } = await this.start();
      return voices.map(({ id, name, language }) => ({ id, name, language }));
    } catch (cause) {
      throw new RelayError('upstream_unavailable', 'The embedded espeak-ng engine failed to load.', { cause });
    }
  }

  healthy(): boolean {
    return true;
  }

  /** Ends the engine thread; contexts still speaking end with an error. */
  async close(): Promise<void> {
    this.closed = true;
    this.warmUp.abort();
    const synthesizer = await this.synthesizer?.catch(() => null);
    await synthesizer?.close();
  }

  private start(): Promise<EspeakSynthesizer> {
    if (this.closed) return Promise.reject(new Error('The espeak provider is closed.'));
    if (!this.synthesizer) {
      const starting = openEspeakSynthesizer(this.options);
      // A failed start is retried by the next caller; the rejection reaches whoever awaits it.
      starting.catch(() => {
        if (this.synthesizer === starting) this.synthesizer = null;
      });
      this.synthesizer = starting;
    }
    return this.synthesizer;
  }
}

class EspeakContext implements TTSContext {
  readonly events = new AsyncQueue<ProviderEvent>();
  private readonly aggregator = new SentenceAggregator();
  private readonly transcoder: Transcoder;
  private readonly voice: string;
  /** Synthesis runs one piece at a time, in order, yielding to the event loop between pieces (which inline synthesis blocks). */
  private work: Promise<void> = Promise.resolve();
  private samplesOut = 0;
  private flushes = 0;
  private stopped = false;
  /** Aborted on cancel: the synthesizer drops this context's requests that have not started. */
  private readonly cancelled = new AbortController();

  constructor(
    readonly id: string,
    private readonly options: ContextOptions,
    private readonly synthesizer: Promise<EspeakSynthesizer>,
    defaultVoice: string,
  ) {
    this.transcoder = createTranscoder(ENGINE_FORMAT, options.format);
    // Routes that validate voices pass an id; the Cartesia-compatible one passes Cartesia's ids, which espeak has not.
    this.voice = options.voice && ESPEAK_VOICE_NAME.test(options.voice) ? options.voice : (options.language ?? defaultVoice);
  }

  push(text: string): void {
    if (this.stopped) return;
    const pieces = this.aggregator.push(text);
    if (this.options.buffering !== 'provider') {
      const rest = this.aggregator.flush();
      if (rest !== '') pieces.push(rest);
    }
    for (const piece of pieces) this.enqueue(() => this.speak(piece));
  }

  flush(): void {
    if (this.stopped) return;
    const flushId = ++this.flushes;
    this.speakRest();
    this.enqueue(() => this.events.push({ type: 'flush_done', flushId }));
  }

  end(): void {
    if (this.stopped) return;
    this.speakRest();
    this.enqueue(() => {
      this.emitAudio(this.transcoder.flush());
      this.events.push({ type: 'done' });
      this.stopped = true;
      this.events.close();
    });
  }

  cancel(): void {
    this.stopped = true;
    this.cancelled.abort();
    this.events.clear();
  }

  private speakRest(): void {
    const rest = this.aggregator.flush();
    if (rest !== '') this.enqueue(() => this.speak(rest));
  }

  private enqueue(job: () => void | Promise<void>): void {
    this.work = this.work
      .then(async () => {
        if (this.stopped) return;
        await job();
        await yieldToEventLoop();
      })
      .catch((cause: unknown) => {
        if (this.stopped) return;
        this.stopped = true;
        this.events.push({ type: 'error', error: new RelayError('upstream_error', 'The embedded engine failed to synthesize.', { cause }) });
        this.events.close();
      });
  }

  private async speak(text: string): Promise<void> {
    const synthesizer = await this.synthesizer;
    if (this.stopped) return;
    const offset = this.samplesOut / ESPEAK_SAMPLE_RATE;
    let sent = 0;
    const { sampleCount, words } = await synthesizer.synthesize(text, this.voice, (chunk, settled) => {
      if (this.stopped) return;
      // Words go out as the engine settles them, ahead of the audio: a caption can mark them as they are heard.
      this.emitWords(settled, offset);
      sent += settled.length;
      this.emitAudio(this.transcoder.push(floatBytes(chunk)));
    }, this.cancelled.signal);
    this.samplesOut += sampleCount;
    this.emitWords(words.slice(sent), offset);
  }

  private emitWords(words: WordTimestamp[], offset: number): void {
    if (!this.options.timestamps || words.length === 0 || this.stopped) return;
    this.events.push({
      type: 'timestamps',
      words: words.map((w) => ({ word: w.word, start: round(w.start + offset), end: round(w.end + offset) })),
    });
  }

  private emitAudio(data: Uint8Array): void {
    if (data.byteLength > 0 && !this.stopped) this.events.push({ type: 'audio', data });
  }
}

function floatBytes(samples: Float32Array): Uint8Array {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

function round(seconds: number): number {
  return Math.round(seconds * 1e4) / 1e4;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
