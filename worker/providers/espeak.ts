/** The embedded offline provider: espeak-ng in WebAssembly behind the Cartesia-shaped context interface. */
import { AsyncQueue } from '../../shared/async-queue.ts';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import { createTranscoder, type Transcoder } from '../../shared/transcoder.ts';
import { SentenceAggregator } from '../text/sentence-aggregator.ts';
import { DEFAULT_ESPEAK_VOICE, ESPEAK_SAMPLE_RATE, type EspeakEngine, loadEspeakEngine } from './espeak-engine.ts';
import type { ContextOptions, ProviderEvent, TTSContext, TTSProvider } from './provider.ts';

const ENGINE_FORMAT: AudioFormat = { encoding: 'pcm_f32le', sampleRate: ESPEAK_SAMPLE_RATE };

export class EspeakProvider implements TTSProvider {
  readonly name = 'espeak';
  readonly preferredFormat = ENGINE_FORMAT;
  private contexts = 0;

  openContext(options: ContextOptions): TTSContext {
    return new EspeakContext(`espeak-${++this.contexts}`, options, loadEspeakEngine());
  }

  async ready(): Promise<void> {
    try {
      await loadEspeakEngine();
    } catch (cause) {
      throw new RelayError('upstream_unavailable', 'The embedded espeak-ng engine failed to load.', { cause });
    }
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

class EspeakContext implements TTSContext {
  readonly events = new AsyncQueue<ProviderEvent>();
  private readonly aggregator = new SentenceAggregator();
  private readonly transcoder: Transcoder;
  private readonly voice: string;
  /** Synthesis runs one piece at a time, in order, yielding to the event loop between pieces. */
  private work: Promise<void> = Promise.resolve();
  private samplesOut = 0;
  private flushes = 0;
  private stopped = false;

  constructor(
    readonly id: string,
    private readonly options: ContextOptions,
    private readonly engine: Promise<EspeakEngine>,
  ) {
    this.transcoder = createTranscoder(ENGINE_FORMAT, options.format);
    this.voice = options.voice && /^[a-z]{2,3}(-[a-z0-9]+)*$/i.test(options.voice) ? options.voice : (options.language ?? DEFAULT_ESPEAK_VOICE);
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
    const engine = await this.engine;
    if (this.stopped) return;
    const offset = this.samplesOut / ESPEAK_SAMPLE_RATE;
    const { samples, words } = engine.synthesize(text, this.voice, (chunk) => {
      if (!this.stopped) this.emitAudio(this.transcoder.push(floatBytes(chunk)));
    });
    this.samplesOut += samples.length;
    if (this.options.timestamps && words.length > 0 && !this.stopped) {
      this.events.push({
        type: 'timestamps',
        words: words.map((w) => ({ word: w.word, start: round(w.start + offset), end: round(w.end + offset) })),
      });
    }
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
