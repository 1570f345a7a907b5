import { describe, expect, it } from 'vitest';
import { heardWords } from '../../worker/core/heard-text.ts';

const TEXT = 'Hello there, my old friend. How are you?';
const STAMPS = ['Hello', 'there,', 'my', 'old', 'friend.', 'How', 'are', 'you?'].map((word, i) => ({ word, start: i * 0.5, end: i * 0.5 + 0.4 }));

describe('mapping a heard position to the words of the text', () => {
  it('keeps the words whose timestamped end was reached, in the text’s own spelling', () => {
    expect(heardWords(TEXT, STAMPS, 1.9, 4, true)).toEqual({ text: 'Hello there, my old', words: 4 });
    expect(heardWords(TEXT, STAMPS, 0.39, 4, true)).toEqual({ text: '', words: 0 });
  });

  it('does not count a word cut mid-way', () => {
    // "friend." runs 2.0–2.4 s: at 2.2 s it was cut.
    expect(heardWords(TEXT, STAMPS, 2.2, 4, false).text).toBe('Hello there, my old');
    expect(heardWords(TEXT, STAMPS, 2.4, 4, false).text).toBe('Hello there, my old friend.');
  });

  it('keeps words the timestamps skipped, placing them between their neighbours', () => {
    // An engine that skips "my" and "old" (espeak drops words in its events).
    const skipping = STAMPS.filter((s) => s.word !== 'my' && s.word !== 'old');
    expect(heardWords(TEXT, skipping, 2.4, 4, true).text).toBe('Hello there, my old friend.');
    // Between "there," (ends 0.9) and "friend." (starts 2.0) the skipped words end by characters: "my" ~1.3 s.
    const mid = heardWords(TEXT, skipping, 1.5, 4, true);
    expect(mid.text).toBe('Hello there, my');
    expect(heardWords(TEXT, skipping, 0.95, 4, true).text).toBe('Hello there,');
  });

  it('times untimed trailing words by the audio end only when the text was all synthesized', () => {
    const head = STAMPS.slice(0, 5);
    expect(heardWords(TEXT, head, 4, 4, true).text).toBe(TEXT);
    expect(heardWords(TEXT, head, 4, 4, false).text).toBe('Hello there, my old friend.');
  });

  it('matches words an engine spells differently and ignores stamps it cannot place', () => {
    const stamps = [
      { word: 'hello', start: 0, end: 0.4 },
      { word: 'zzz', start: 0.4, end: 0.5 },
      { word: 'THERE', start: 0.5, end: 0.9 },
    ];
    expect(heardWords('Hello there.', stamps, 1, 1, false)).toEqual({ text: 'Hello there.', words: 2 });
  });
});
