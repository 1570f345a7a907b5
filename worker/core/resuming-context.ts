/**
 * A provider context that outlives its upstream connection: when the provider's socket dies mid-speech, the
 * utterance goes on in a new context from the first word whose audio had not all arrived (found by the word
 * timestamps; audio past it not yet released is dropped), so listeners hear the text once with a short gap.
 * An acknowledged flush places the audio too (everything before it was spoken), so a provider that gives no
 * word timestamps goes on from the last flush it finished: with the text not yet spoken. A bounded number of times, then the error as before.
 */
import { AsyncQueue } from '../../shared/async-queue.ts';
import { type AudioFormat, secondsOf } from '../../shared/audio-format.ts';
import { isResumable, RelayError } from '../../shared/errors.ts';
import type { WordTimestamp } from '../../shared/protocol.ts';
import type { Logger } from '../ops/logger.ts';
import type { ContextOptions, ProviderEvent, TTSContext, TTSProvider } from '../providers/provider.ts';
import { SpokenText, wordEnd } from './spoken-text.ts';

// A connection that dies this often within one utterance is an outage, not a blip: the error then surfaces.
export const MAX_RESUMES = 3;
// Word ends within a millisecond of the audio received count as covered (timestamps are rounded).
const EPSILON_SECONDS = 1e-3;

/** The stream's side of a resume: the utterance's audio already handed on and not yet released. */
export interface UnreleasedAudio {
  /** Drops up to `seconds` of the utterance's newest audio not yet released to listeners; returns the seconds dropped. */
  dropNewest(seconds: number): number;
}

export class ResumingContext implements TTSContext {
  readonly id: string;
  readonly events = new AsyncQueue<ProviderEvent>();
  private readonly text = new SpokenText();
  private readonly format: AudioFormat;
  private inner: TTSContext;
  private flushes = 0;
  /** Our flush ids the current inner context owes a `flush_done`, in order. */
  private owed: number[] = [];
  /** Seconds of audio handed on (less any dropped at a resume). */
  private seconds = 0;
  /** Where the current inner context's audio starts on the utterance's timeline, and its text in ours. */
  private base = 0;
  private textStart = 0;
  /** The character after the last word whose audio has all been handed on, and that word's end. */
  private spokenTo = 0;
  private lastWordEnd = 0;
  /** Timestamped words whose audio has not all arrived: held back, so no listener hears of a word cut by a resume. */
  private held: WordTimestamp[] = [];
  private resumes = 0;
  private stopped = false;

  constructor(
    private readonly provider: TTSProvider,
    private readonly options: ContextOptions,
    private readonly audio: UnreleasedAudio,
    private readonly logger: Logger,
    private readonly maxResumes = MAX_RESUMES,
  ) {
    this.format = options.format;
    this.inner = provider.openContext(options);
    this.id = this.inner.id;
    this.drain(this.inner);
  }

  push(text: string): void {
    if (this.stopped || this.text.ended || text === '') return;
    this.text.append(text);
    this.inner.push(text);
  }

  flush(): void {
    if (this.stopped || this.text.ended) return;
    const flushId = ++this.flushes;
    this.text.flush(flushId);
    this.owed.push(flushId);
    this.inner.flush();
  }

  end(): void {
    if (this.stopped || this.text.ended) return;
    this.text.ended = true;
    this.inner.end();
  }

  cancel(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.events.clear();
    this.inner.cancel();
  }

  private drain(inner: TTSContext): void {
    this.forward(inner).catch((error: unknown) =>
      this.finish({ type: 'error', error: error instanceof RelayError ? error : new RelayError('internal_error', undefined, { cause: error }) }),
    );
  }

  private async forward(inner: TTSContext): Promise<void> {
    for await (const event of inner.events) {
      if (this.stopped || inner !== this.inner) return;
      switch (event.type) {
        case 'audio':
          this.seconds += secondsOf(this.format, event.data.byteLength);
          this.events.push(event);
          this.releaseWords(false);
          break;
        case 'timestamps':
          this.held.push(...event.words.map((w) => ({ word: w.word, start: w.start + this.base, end: w.end + this.base })));
          this.releaseWords(false);
          break;
        case 'phoneme_timestamps':
          this.events.push({ type: 'phoneme_timestamps', phonemes: event.phonemes.map((p) => ({ word: p.word, start: p.start + this.base, end: p.end + this.base })) });
          break;
        case 'flush_done': {
          this.releaseWords(true);
          const flushId = this.owed.shift();
          if (flushId === undefined) break;
          this.spokenThrough(flushId);
          this.events.push({ type: 'flush_done', flushId });
          break;
        }
        case 'done':
          this.releaseWords(true);
          this.finish(event);
          return;
        case 'error':
          if (!this.resume(event.error)) this.finish(event);
          return;
      }
    }
    if (!this.stopped && inner === this.inner) this.finish({ type: 'error', error: new RelayError('upstream_error', 'The provider ended the utterance without finishing it.') });
  }

  /** Hands on the held words whose audio has all arrived (`all`: every held word), placing each in the text. */
  private releaseWords(all: boolean): void {
    let count = 0;
    while (count < this.held.length && (all || this.held[count]!.end <= this.seconds + EPSILON_SECONDS)) count++;
    if (count === 0) return;
    const words = this.held.splice(0, count);
    for (const word of words) {
      const end = wordEnd(this.text.value, Math.max(this.spokenTo, this.textStart), word.word);
      if (end !== null) this.spokenTo = end;
      this.lastWordEnd = word.end;
    }
    this.events.push({ type: 'timestamps', words });
  }

  /** A finished flush: the text before it has all its audio, so a resume goes on from there at the latest. */
  private spokenThrough(flushId: number): void {
    const at = this.text.flushAt(flushId);
    if (at === null) return;
    this.spokenTo = Math.max(this.spokenTo, at);
    this.lastWordEnd = Math.max(this.lastWordEnd, this.seconds);
  }

  /** Opens a new context for what was not heard; false when the error should end the utterance instead. */
  private resume(error: RelayError): boolean {
    if (this.stopped || this.resumes >= this.maxResumes || !isResumable(error.code)) return false;
    let from: number;
    let dropped = 0;
    if (this.options.timestamps) {
      this.held = [];
      const cut = Math.max(this.lastWordEnd, this.base);
      dropped = this.audio.dropNewest(Math.max(0, this.seconds - cut));
      this.seconds -= dropped;
      from = Math.max(this.spokenTo, this.textStart);
    } else {
      // No timestamps: nothing says how far the audio got, so only the text still to come goes on.
      from = this.text.length;
      if (this.text.ended) return false;
    }
    this.resumes += 1;
    this.logger.info('resuming an utterance on a new provider context', {
      context: this.id,
      resume: this.resumes,
      reason: error.code,
      from_character: from,
      at_seconds: Math.round(this.seconds * 1000) / 1000,
      dropped_seconds: Math.round(dropped * 1000) / 1000,
    });
    this.base = this.seconds;
    this.textStart = from;
    const rest = this.text.from(from);
    const owed = new Set(this.owed);
    this.owed = [];
    // A flush whose text was all heard is done: the new context never sees it.
    const repeated = new Set(rest.flatMap((op) => (op.kind === 'flush' && owed.has(op.flushId) ? [op.flushId] : [])));
    for (const flushId of owed) if (!repeated.has(flushId)) this.events.push({ type: 'flush_done', flushId });
    if (this.text.ended && this.text.value.slice(from).trim() === '') {
      this.finish({ type: 'done' });
      return true;
    }
    const inner = this.provider.openContext(this.options);
    this.inner = inner;
    for (const op of rest) {
      if (op.kind === 'text') inner.push(op.text);
      else if (repeated.has(op.flushId)) {
        this.owed.push(op.flushId);
        inner.flush();
      }
    }
    if (this.text.ended) inner.end();
    this.drain(inner);
    return true;
  }

  private finish(last: ProviderEvent): void {
    if (this.stopped) return;
    this.stopped = true;
    this.events.push(last);
    this.events.close();
  }
}
