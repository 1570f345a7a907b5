/**
 * How much of an utterance's written text is still unspoken: the word timestamps released with its audio
 * are found, in order, in the text written so far. Publishers are paused on this figure.
 */

// A word found further ahead than this is a coincidental match (the engine normalized or dropped words): skip it.
const MAX_SKIP_CHARS = 64;
// Spoken text is dropped from the front once this much of it piles up.
const COMPACT_CHARS = 4096;

export class SpokenProgress {
  private text = '';
  private cursor = 0;
  /** Clock reading of the last word or audio released for the utterance. */
  lastProgressAt: number;
  /** Whether any of its audio has been released: it is speaking, not queued. */
  started = false;

  constructor(private readonly now: () => number) {
    this.lastProgressAt = now();
  }

  /** Characters written and not yet heard. */
  get unspoken(): number {
    return this.text.length - this.cursor;
  }

  wrote(text: string): void {
    this.text += text;
  }

  /** Words whose audio was released to listeners, in order. */
  spoke(words: readonly string[]): void {
    for (const word of words) {
      if (word === '') continue;
      const at = this.text.indexOf(word, this.cursor);
      if (at >= 0 && at - this.cursor <= MAX_SKIP_CHARS) this.cursor = at + word.length;
    }
    if (this.cursor >= COMPACT_CHARS) {
      this.text = this.text.slice(this.cursor);
      this.cursor = 0;
    }
    this.lastProgressAt = this.now();
    this.started = true;
  }

  /** Audio without words was released (a provider without timestamps still shows progress). */
  sounded(): void {
    this.lastProgressAt = this.now();
    this.started = true;
  }

  /** Counts everything written as spoken: the engine went quiet, so nothing it holds is waiting. */
  catchUp(): void {
    this.text = '';
    this.cursor = 0;
  }
}
