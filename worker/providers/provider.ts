/** The one interface every TTS engine implements, shaped like a Cartesia context. */
import type { Voice } from '../../shared/api.ts';
import type { AudioFormat } from '../../shared/audio-format.ts';
import type { CartesiaUpstreamField } from '../../shared/cartesia-messages.ts';
import type { RelayError } from '../../shared/errors.ts';
import type { WordTimestamp } from '../../shared/protocol.ts';

export interface ContextOptions {
  /** Audio the context must produce; the provider converts if its engine works in another format. */
  format: AudioFormat;
  voice?: string;
  model?: string;
  language?: string;
  /** Ask for word timestamps. */
  timestamps?: boolean;
  /** Ask for phoneme timestamps where the provider has them. */
  phonemeTimestamps?: boolean;
  /** Provider-specific generation settings (Cartesia `generation_config`: speed, volume, emotion). */
  generation?: Record<string, unknown>;
  /**
   * `relay`: the caller pushes whole sentences or clauses; synthesize each push at once.
   * `provider`: the caller pushes raw fragments; the provider buffers as it sees fit.
   */
  buffering?: 'relay' | 'provider';
  /** With `provider` buffering, how long the provider may hold text waiting for more (Cartesia `max_buffer_delay_ms`). */
  maxBufferDelayMs?: number;
  /** A pronunciation dictionary of the provider's account (Cartesia `pronunciation_dict_id`); only where `upstreamFields` has it. */
  pronunciationDictId?: string;
  /** Word times of the normalized text (Cartesia `use_normalized_timestamps`); only where `upstreamFields` has it. */
  normalizedTimestamps?: boolean;
}

export type ProviderEvent =
  | { type: 'audio'; data: Uint8Array }
  /** Word times in seconds from the first sample of this context's audio. */
  | { type: 'timestamps'; words: WordTimestamp[] }
  | { type: 'phoneme_timestamps'; phonemes: WordTimestamp[] }
  | { type: 'flush_done'; flushId: number }
  | { type: 'done' }
  | { type: 'error'; error: RelayError };

/**
 * One utterance's synthesis. `push` may be called any number of times before `end`;
 * `events` yields audio in `options.format` and finishes after exactly one `done` or `error`.
 * `cancel` ends the events at once with no further audio.
 */
export interface TTSContext {
  readonly id: string;
  push(text: string): void;
  /** Synthesize everything pushed so far without waiting for more; yields `flush_done` when it is out. */
  flush(): void;
  /** No more text will come. */
  end(): void;
  cancel(): void;
  readonly events: AsyncIterable<ProviderEvent>;
}

export interface TTSProvider {
  readonly name: 'espeak' | 'cartesia';
  /** The format the engine produces without conversion; streams publish in it. */
  readonly preferredFormat: AudioFormat;
  /** The voice a context gets when it names none (`TTS_VOICE`, else the provider's own default). */
  readonly defaultVoice: string;
  /** The Cartesia request fields this provider honours by passing them upstream (the others are refused). */
  readonly upstreamFields: readonly CartesiaUpstreamField[];
  openContext(options: ContextOptions): TTSContext;
  /**
   * The voices `ContextOptions.voice` takes, in the provider's order. Asked of the engine or upstream once
   * and then kept (Cartesia: refreshed after a while); rejects with a RelayError when they cannot be had.
   */
  voices(): Promise<Voice[]>;
  /** Resolves when the provider can take work, rejects with a RelayError when it cannot. */
  ready(): Promise<void>;
  /** Settles when the engine's own warm-up after start is over, if it runs one (espeak: in its thread). */
  readonly warmed?: Promise<void>;
  /** Whether the upstream is reachable now; feeds the readiness check. */
  healthy(): boolean;
  close(): Promise<void>;
}
