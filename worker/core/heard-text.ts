/**
 * Maps a heard position to the words of an utterance's own text. The provider's word timestamps are lined
 * up with the text in order; words they skip (espeak does) or spell differently get times between their
 * timestamped neighbours, by characters, so no word of the text is lost. A word whose end is past the
 * position was cut and is not heard.
 */
import type { WordTimestamp } from '../../shared/protocol.ts';

// A timestamp word is looked for this many text words ahead at most; further, it is a coincidental match.
const MAX_SKIP_WORDS = 8;
// Float slack for "the word's end was reached".
const EPSILON_SECONDS = 0.001;

interface TextWord {
  /** Character span in the text. */
  from: number;
  to: number;
  key: string;
  /** Seconds from the utterance's first sample at which the word has been spoken; NaN until placed. */
  end: number;
  start: number;
}

export interface HeardWords {
  text: string;
  words: number;
}

/**
 * The text up to the last word fully heard at `seconds`. `audioSeconds` is the utterance's audio length;
 * `complete` says its text was all synthesized (words after the last timestamp end by the audio's end),
 * otherwise untimed trailing words were never spoken.
 */
export function heardWords(text: string, stamps: readonly WordTimestamp[], seconds: number, audioSeconds: number, complete: boolean): HeardWords {
  const words = placeWords(text, stamps, audioSeconds, complete);
  let heard = 0;
  while (heard < words.length && words[heard]!.end <= seconds + EPSILON_SECONDS) heard++;
  if (heard === 0) return { text: '', words: 0 };
  return { text: text.slice(0, words[heard - 1]!.to).trim(), words: heard };
}

/** Each word of the text with the time its audio ends (Infinity for words never spoken). */
function placeWords(text: string, stamps: readonly WordTimestamp[], audioSeconds: number, complete: boolean): TextWord[] {
  const words: TextWord[] = [];
  for (const match of text.matchAll(/\S+/g)) {
    words.push({ from: match.index, to: match.index + match[0].length, key: keyOf(match[0]), start: Number.NaN, end: Number.NaN });
  }
  let cursor = 0;
  for (const stamp of stamps) {
    const key = keyOf(stamp.word);
    if (key === '') continue;
    const limit = Math.min(words.length, cursor + MAX_SKIP_WORDS);
    for (let i = cursor; i < limit; i++) {
      const word = words[i]!;
      // One stamp may cover a text word written with punctuation ("well-known", "it's") or a part of it.
      if (word.key !== '' && (word.key === key || word.key.startsWith(key) || key.startsWith(word.key))) {
        if (Number.isNaN(word.start)) word.start = stamp.start;
        word.end = Math.max(Number.isNaN(word.end) ? 0 : word.end, stamp.end);
        cursor = word.key.startsWith(key) && word.key !== key ? i : i + 1;
        break;
      }
    }
  }
  fillGaps(words, audioSeconds, complete);
  return words;
}

/** Untimed words get ends spread by characters between the timed words around them. */
function fillGaps(words: TextWord[], audioSeconds: number, complete: boolean): void {
  let previousEnd = 0;
  let previousTo = 0;
  let i = 0;
  while (i < words.length) {
    if (!Number.isNaN(words[i]!.end)) {
      previousEnd = Math.max(previousEnd, words[i]!.end);
      words[i]!.end = previousEnd;
      previousTo = words[i]!.to;
      i++;
      continue;
    }
    let j = i;
    while (j < words.length && Number.isNaN(words[j]!.end)) j++;
    const next = words[j];
    const untilSeconds = next ? next.start : complete ? Math.max(previousEnd, audioSeconds) : Number.POSITIVE_INFINITY;
    const untilChar = next ? next.from : words[j - 1]!.to;
    const span = Math.max(1, untilChar - previousTo);
    for (let k = i; k < j; k++) {
      const share = (words[k]!.to - previousTo) / span;
      words[k]!.end = Number.isFinite(untilSeconds) ? previousEnd + Math.max(0, untilSeconds - previousEnd) * Math.min(1, share) : untilSeconds;
    }
    i = j;
  }
}

/** A word as compared: lower case letters and digits only. */
function keyOf(word: string): string {
  return word.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}
