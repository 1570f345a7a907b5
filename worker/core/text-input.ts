/** The one shape of text on its way to speech, from any ingress to any provider, and the one character limit on it. */
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
