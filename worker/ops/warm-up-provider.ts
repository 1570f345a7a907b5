/**
 * The provider of the warm-up's rehearsal (warm-up.ts): speaks any text as a quiet tone in the real provider's
 * format, with word times, chunk by chunk as a streaming provider does, without touching the real engine.
 */
import type { Voice } from '../../shared/api.ts';
import { AsyncQueue } from '../../shared/async-queue.ts';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { encodeSamples } from '../../shared/codecs.ts';
import type { WordTimestamp } from '../../shared/protocol.ts';
import type { ContextOptions, ProviderEvent, TTSContext, TTSProvider } from '../providers/provider.ts';

// A few chunks per word, as a provider streams them: the path a real chunk takes runs several times.
const WORD_SECONDS = 0.1;
const CHUNK_SECONDS = 0.05;
const TONE_HZ = 440;
const TONE_LEVEL = 0.01;

export class WarmUpProvider implements TTSProvider {
  readonly name: TTSProvider['name'];
  readonly preferredFormat: AudioFormat;
  readonly defaultVoice: string;
  readonly upstreamFields = [] as const;
  private contexts = 0;

  constructor(real: Pick<TTSProvider, 'name' | 'preferredFormat' | 'defaultVoice'>) {
    this.name = real.name;
    this.preferredFormat = real.preferredFormat;
    this.defaultVoice = real.defaultVoice;
  }

  openContext(options: ContextOptions): TTSContext {
    return new WarmUpContext(`warm-up-${++this.contexts}`, options);
  }

  async voices(): Promise<Voice[]> {
    return [];
  }

  async ready(): Promise<void> {}

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

class WarmUpContext implements TTSContext {
  readonly events = new AsyncQueue<ProviderEvent>();
  private text = '';
  private seconds = 0;
  private flushes = 0;

  constructor(
    readonly id: string,
    private readonly options: ContextOptions,
  ) {}

  push(text: string): void {
    this.text += text;
  }

  flush(): void {
    this.speak();
    this.events.push({ type: 'flush_done', flushId: ++this.flushes });
  }

  end(): void {
    this.speak();
    this.events.push({ type: 'done' });
    this.events.close();
  }

  cancel(): void {
    this.events.clear();
  }

  /** What was pushed since the last flush: its word times first (as Cartesia sends them), then its audio. */
  private speak(): void {
    const words = this.text.split(/\s+/).filter((word) => word !== '');
    this.text = '';
    if (words.length === 0) return;
    const stamps: WordTimestamp[] = words.map((word, i) => ({ word, start: this.seconds + i * WORD_SECONDS, end: this.seconds + (i + 1) * WORD_SECONDS }));
    if (this.options.timestamps) this.events.push({ type: 'timestamps', words: stamps });
    const { format } = this.options;
    const chunkSamples = Math.round(format.sampleRate * CHUNK_SECONDS);
    const chunks = Math.ceil((words.length * WORD_SECONDS) / CHUNK_SECONDS);
    for (let chunk = 0; chunk < chunks; chunk++) this.events.push({ type: 'audio', data: encodeSamples(format.encoding, tone(chunk * chunkSamples, chunkSamples, format.sampleRate)) });
    this.seconds += chunks * CHUNK_SECONDS;
  }
}

function tone(first: number, count: number, sampleRate: number): Float32Array {
  const samples = new Float32Array(count);
  for (let i = 0; i < count; i++) samples[i] = TONE_LEVEL * Math.sin((2 * Math.PI * TONE_HZ * (first + i)) / sampleRate);
  return samples;
}
