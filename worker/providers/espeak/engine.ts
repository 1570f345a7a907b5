/** The espeak-ng WebAssembly engine, loaded once per process and shared by every context. */
import type { Voice } from '../../../shared/api.ts';
import type { WordTimestamp } from '../../../shared/protocol.ts';

/** espeak-ng's native output: 16-bit mono at 22,050 Hz. */
export const ESPEAK_SAMPLE_RATE = 22050;
export const DEFAULT_ESPEAK_VOICE = 'en-us';

interface EspeakEvent {
  type: string;
  text_position: number;
  word_length: number;
  audio_position: number;
}

interface EspeakVoiceEntry {
  name: string;
  /** The voice file, e.g. `gmw/en-US`: what `set_voice` takes. */
  identifier: string;
  /** Language tags by priority, e.g. `en-us`, `en`. */
  languages: Array<{ priority: number; name: string }>;
}

/** A voice as the relay names it (`id`: its first language tag, e.g. `en-gb`), with the file espeak loads. */
export interface EspeakVoice extends Voice {
  file: string;
}

interface EspeakWorker {
  set_voice(name: string): number;
  list_voices(): EspeakVoiceEntry[];
  set_rate(wordsPerMinute: number): void;
  get_samplerate(): number;
  synthesize(text: string, callback: (samples: Int16Array, events: EspeakEvent[]) => number): void;
}

interface EspeakModule {
  eSpeakNGWorker: new () => EspeakWorker;
}

/** Samples at ESPEAK_SAMPLE_RATE as the engine makes them, and the words whose times they settled. */
export type ChunkHandler = (samples: Float32Array, words: WordTimestamp[]) => void;

export interface Synthesis {
  /** Float samples at ESPEAK_SAMPLE_RATE. */
  samples: Float32Array;
  /** Times in seconds from this synthesis' first sample. */
  words: WordTimestamp[];
}

/** What a chunked synthesis leaves once its samples are handed out. */
export interface SynthesisSummary {
  sampleCount: number;
  /** Times in seconds from this synthesis' first sample. */
  words: WordTimestamp[];
}

/** A loaded engine. Synthesis is synchronous inside WebAssembly, so callers keep inputs sentence-sized. */
export class EspeakEngine {
  private voice = '';
  /** By lower-case id. */
  private readonly files: Map<string, string>;
  readonly voices: EspeakVoice[];

  constructor(private readonly worker: EspeakWorker) {
    this.voices = namedVoices(worker.list_voices());
    this.files = new Map(this.voices.map((voice) => [voice.id, voice.file]));
  }

  synthesize(text: string, voice = DEFAULT_ESPEAK_VOICE, onChunk?: ChunkHandler): Synthesis {
    const chunks: Float32Array[] = [];
    const { sampleCount, words } = this.synthesizeInChunks(text, voice, (chunk, settled) => {
      chunks.push(chunk);
      onChunk?.(chunk, settled);
    });
    const samples = new Float32Array(sampleCount);
    let offset = 0;
    for (const chunk of chunks) {
      samples.set(chunk, offset);
      offset += chunk.length;
    }
    return { samples, words };
  }

  /**
   * Hands each chunk to `onChunk` as the engine makes it and keeps none: every chunk is a fresh array
   * over a buffer of its own, so the callee may transfer it to another thread. With each chunk come the words
   * whose times it settled (a word ends where the next begins), so captions need not wait for the whole piece;
   * the summary lists every word, the last ones included. When `stop` answers true after a chunk, the engine
   * stops there (espeak-ng's callback abort) and the summary covers what was made.
   */
  synthesizeInChunks(text: string, voice: string, onChunk: ChunkHandler, stop?: () => boolean): SynthesisSummary {
    this.selectVoice(voice);
    const events: EspeakEvent[] = [];
    let total = 0;
    let settled = 0;
    this.worker.synthesize(text, (pcm, chunkEvents) => {
      const chunk = int16ToFloat32(pcm);
      total += chunk.length;
      events.push(...chunkEvents);
      // Every word but the last one begun has its end: the next word's start.
      const words = wordTimestamps(text, events, Infinity).slice(settled, -1);
      settled += words.length;
      onChunk(chunk, words);
      return stop?.() ? 1 : 0;
    });
    return { sampleCount: total, words: wordTimestamps(text, events, total / ESPEAK_SAMPLE_RATE) };
  }

  /** `voice` is a voice id (`en-gb`), or else whatever espeak-ng itself takes (a file name such as `fr`). */
  private selectVoice(voice: string): void {
    if (voice === this.voice) return;
    const file = this.files.get(voice.toLowerCase()) ?? voice;
    if (this.worker.set_voice(file) !== 0 && this.worker.set_voice(DEFAULT_ESPEAK_VOICE) !== 0) {
      throw new Error(`espeak-ng could not select voice ${voice}`);
    }
    this.voice = voice;
  }
}

let loading: Promise<EspeakEngine> | null = null;

/** Loads the engine on first use (~100 ms); later calls share it, so no utterance pays a start-up. */
export function loadEspeakEngine(): Promise<EspeakEngine> {
  loading ??= (async () => {
    const { default: createModule } = await import('@echogarden/espeak-ng-emscripten');
    const module = (await createModule()) as EspeakModule;
    const engine = new EspeakEngine(new module.eSpeakNGWorker());
    return engine;
  })();
  loading.catch(() => (loading = null));
  return loading;
}

/**
 * Names each voice by its first language tag (what a user types: `en-gb`, `fr-fr`), or by its file's
 * name when another voice already has that tag (espeak-ng has two Cantonese voices tagged `yue`).
 */
function namedVoices(entries: EspeakVoiceEntry[]): EspeakVoice[] {
  const taken = new Set<string>();
  const voices: EspeakVoice[] = [];
  for (const entry of entries) {
    const file = entry.identifier.split('/').pop()!.toLowerCase();
    const tag = entry.languages[0]?.name.toLowerCase() ?? file;
    const id = taken.has(tag) ? file : tag;
    if (taken.has(id)) continue;
    taken.add(id);
    voices.push({ id, name: entry.name.trim(), language: tag, file: entry.identifier });
  }
  return voices;
}

function int16ToFloat32(pcm: Int16Array): Float32Array {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = (pcm[i] as number) / 32768;
  return out;
}

/** Turns espeak word events (1-based character positions, millisecond audio positions) into word spans. */
function wordTimestamps(text: string, events: EspeakEvent[], duration: number): WordTimestamp[] {
  const chars = Array.from(text);
  const starts = events.filter((event) => event.type === 'word');
  return starts.map((event, index) => {
    const next = starts[index + 1];
    const start = event.audio_position / 1000;
    const end = next ? next.audio_position / 1000 : duration;
    const word = chars.slice(event.text_position - 1, event.text_position - 1 + event.word_length).join('');
    return { word, start: Math.min(start, duration), end: Math.max(Math.min(end, duration), Math.min(start, duration)) };
  });
}
