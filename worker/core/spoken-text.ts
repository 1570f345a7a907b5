/**
 * An utterance's text as it was handed to the provider, with its flushes in place, and where in it the words
 * of the provider's timestamps fall: what a resumed context needs to go on from a given word.
 */

export type TextOperation = { kind: 'text'; start: number; text: string } | { kind: 'flush'; at: number; flushId: number };

// How many tokens ahead a timestamped word is looked for before it is taken as not found (a provider may
// skip punctuation-only tokens or spell numbers out).
const LOOKAHEAD_TOKENS = 6;

export class SpokenText {
  readonly operations: TextOperation[] = [];
  /** Everything pushed, joined. */
  value = '';
  ended = false;

  get length(): number {
    return this.value.length;
  }

  append(text: string): void {
    this.operations.push({ kind: 'text', start: this.value.length, text });
    this.value += text;
  }

  flush(flushId: number): void {
    this.operations.push({ kind: 'flush', at: this.value.length, flushId });
  }

  /** Where flush `flushId` stands in the text, or null when there is no such flush. */
  flushAt(flushId: number): number | null {
    const flush = this.operations.find((op) => op.kind === 'flush' && op.flushId === flushId);
    return flush?.kind === 'flush' ? flush.at : null;
  }

  /** The text from character `from` on, as the original pushes (the first one cut), with the flushes after it. */
  from(from: number): TextOperation[] {
    const rest: TextOperation[] = [];
    for (const operation of this.operations) {
      if (operation.kind === 'flush') {
        if (operation.at > from) rest.push(operation);
        continue;
      }
      const end = operation.start + operation.text.length;
      if (end <= from) continue;
      const cut = Math.max(0, from - operation.start);
      rest.push({ kind: 'text', start: operation.start + cut, text: operation.text.slice(cut) });
    }
    return rest;
  }
}

/**
 * Finds a timestamped word in `text` at or after `from`: the end of the token it opens (punctuation
 * included), or null when it is not within the next few tokens, so a caller that resumes there repeats a
 * little rather than skips anything.
 */
export function wordEnd(text: string, from: number, word: string): number | null {
  const wanted = normalise(word);
  if (wanted === '') return null;
  const token = /\S+/g;
  token.lastIndex = from;
  for (let seen = 0; seen < LOOKAHEAD_TOKENS; seen++) {
    const match = token.exec(text);
    if (!match) return null;
    const found = normalise(match[0]);
    if (found === '') {
      // Punctuation on its own: never a word, not counted.
      seen -= 1;
      continue;
    }
    if (found.startsWith(wanted)) return match.index + match[0].length;
  }
  return null;
}

function normalise(word: string): string {
  return word.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}
