/** One request's text on its way to speech: its input channel, its state and its outcome. */
import { AsyncQueue } from '../../shared/async-queue.ts';
import { RelayError } from '../../shared/errors.ts';
import type { EndReason, Heard } from '../../shared/protocol.ts';
import type { TTSContext } from '../providers/provider.ts';
import { TextInlet, type TextInput, TextWriter } from './text-input.ts';

export interface UtteranceOptions {
  voice?: string;
  language?: string;
  model?: string;
  /** Ask the provider for phoneme timestamps too (Cartesia only). */
  phonemeTimestamps?: boolean;
  /** `relay` aggregates text into sentences before the provider; `provider` passes fragments through. */
  buffering?: 'relay' | 'provider';
  /** Provider generation settings (Cartesia `generation_config`: speed, volume, emotion). */
  generation?: Record<string, unknown>;
  /** Clock reading when the request arrived, for the time-to-first-audio figure. */
  receivedAt: number;
}

export interface UtteranceResult {
  reason: EndReason;
  error?: RelayError;
  characters: number;
  audioSeconds: number;
  firstAudioMs: number | null;
  totalMs: number;
  /** What listeners heard of it; absent where no instance could tell (an owner lost). */
  heard?: Heard;
}

export type UtteranceState = 'queued' | 'speaking' | 'ended';

export class Utterance extends TextWriter {
  readonly input = new AsyncQueue<TextInput>();
  readonly result: Promise<UtteranceResult>;
  /** Settles the moment it ends, before `result` (which waits for what listeners heard). */
  readonly finished: Promise<void>;
  state: UtteranceState = 'queued';
  /** Everything written, for mapping what was heard to words (bounded by the character limit). */
  text = '';
  audioSeconds = 0;
  firstAudioAt: number | null = null;
  startedAt: number | null = null;
  /** Synthesis already under way for this utterance (set by the stream), played in place of a provider context. */
  source: TTSContext | null = null;
  private settle!: (result: UtteranceResult) => void;
  private markFinished!: () => void;
  protected readonly inlet: TextInlet;

  constructor(
    readonly id: string,
    readonly number: number,
    readonly options: UtteranceOptions,
    maxCharacters: number,
    /** Called when the input side fails, so the stream can stop this utterance. */
    onInputError: (utterance: Utterance, error: RelayError) => void,
  ) {
    super();
    this.inlet = new TextInlet(maxCharacters, {
      isSettled: () => this.ended,
      deliver: (next) => {
        if (next.type === 'text') this.text += next.text;
        this.input.push(next);
        if (next.type === 'end') this.input.close();
      },
      failed: (error) => {
        this.input.clear();
        onInputError(this, error);
      },
    });
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
  }

  get characters(): number {
    return this.inlet.characters;
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  get inputComplete(): boolean {
    return this.inlet.isClosed;
  }

  /**
   * Records the outcome once; later calls are ignored. With `heard`, the result settles when it is known
   * (listeners' last reports come after the end); its figures are those of this moment.
   */
  finish(reason: EndReason, now: number, error?: RelayError, heard?: Promise<Heard>): boolean {
    if (this.ended) return false;
    this.state = 'ended';
    this.inlet.close();
    this.input.clear();
    this.markFinished();
    const result: UtteranceResult = {
      reason,
      ...(error ? { error } : {}),
      characters: this.characters,
      audioSeconds: this.audioSeconds,
      firstAudioMs: this.firstAudioAt === null ? null : this.firstAudioAt - this.options.receivedAt,
      totalMs: now - this.options.receivedAt,
    };
    if (heard) void heard.then((known) => this.settle({ ...result, heard: known }));
    else this.settle(result);
    return true;
  }
}
