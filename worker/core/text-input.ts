/** The one shape of text on its way to speech, from any ingress to any provider, the one character limit on it, and the one inlet. */
import { RelayError } from '../../shared/errors.ts';

/** Input to an utterance, in order: text, a flush (speak what came so far now), the end. */
export type TextInput = { type: 'text'; text: string } | { type: 'flush' } | { type: 'end' };

/** What a request body yields: text and flushes; the body's own end is the input's end. */
export type BodyInput = Exclude<TextInput, { type: 'end' }>;

/** Characters of one utterance counted against its limit. */
export class CharacterBudget {
  private used = 0;

  constructor(private readonly limit: number) {}

  get characters(): number {
    return this.used;
  }

  /** Counts `text`; returns the `text_too_long` error once the total passes the limit (the caller fails its utterance with it). */
  spend(text: string): RelayError | null {
    this.used += text.length;
    if (this.used <= this.limit) return null;
    return new RelayError('text_too_long', `The utterance passed the limit of ${this.limit} characters.`);
  }
}

/** Where an inlet's input goes: an utterance's own queue, or Redis for a stream owned elsewhere. */
export interface TextSink {
  /** Whether the utterance has its outcome: input is ignored from then on. */
  isSettled(): boolean;
  deliver(input: TextInput): void;
  /** The input broke (bad body, client gone, past the limit): the utterance ends with this error. */
  failed(error: RelayError): void;
}

/** The input side of an utterance: text within its character limit, flushes, one end; nothing after the end or a failure. */
export class TextInlet {
  private readonly budget: CharacterBudget;
  private closed = false;

  constructor(
    maxCharacters: number,
    private readonly sink: TextSink,
  ) {
    this.budget = new CharacterBudget(maxCharacters);
  }

  get characters(): number {
    return this.budget.characters;
  }

  /** True once the input ended, failed or the utterance settled. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Adds text; throws `text_too_long` past the character limit, after failing the utterance with it. */
  write(text: string): void {
    if (this.sink.isSettled() || this.closed || text === '') return;
    const tooLong = this.budget.spend(text);
    if (tooLong) {
      this.fail(tooLong);
      throw tooLong;
    }
    this.sink.deliver({ type: 'text', text });
  }

  flush(): void {
    if (!this.sink.isSettled() && !this.closed) this.sink.deliver({ type: 'flush' });
  }

  end(): void {
    if (this.sink.isSettled() || this.closed) return;
    this.closed = true;
    this.sink.deliver({ type: 'end' });
  }

  fail(error: RelayError): void {
    if (this.sink.isSettled()) return;
    this.closed = true;
    this.sink.failed(error);
  }

  /** No more input, without a word to the sink (the utterance settled). */
  close(): void {
    this.closed = true;
  }
}

/** The input side an utterance shows its writers (text, flush, end, fail), all through its TextInlet. */
export abstract class TextWriter {
  protected abstract readonly inlet: TextInlet;

  /** Adds text; throws `text_too_long` past the character limit. */
  write(text: string): void {
    this.inlet.write(text);
  }

  flush(): void {
    this.inlet.flush();
  }

  end(): void {
    this.inlet.end();
  }

  /** The input broke (bad body, client gone): the utterance ends with this error. */
  fail(error: RelayError): void {
    this.inlet.fail(error);
  }
}
