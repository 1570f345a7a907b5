import { describe, expect, it } from 'vitest';
import { SentenceAggregator, splitSentences } from '../../worker/core/sentence-aggregator.ts';

describe('SentenceAggregator', () => {
  it('releases a sentence once whitespace follows its end, and not before', () => {
    const aggregator = new SentenceAggregator();
    expect(aggregator.push('Hel')).toEqual([]);
    expect(aggregator.push('lo there.')).toEqual([]);
    expect(aggregator.push(' How')).toEqual(['Hello there.']);
    expect(aggregator.push(' are you? I am')).toEqual(['How are you?']);
    expect(aggregator.flush()).toBe('I am');
    expect(aggregator.flush()).toBe('');
  });

  it('treats a newline as a boundary, so line-by-line producers are heard line by line', () => {
    const aggregator = new SentenceAggregator();
    expect(aggregator.push('Hello\n')).toEqual(['Hello']);
    expect(aggregator.push('world\n\n')).toEqual(['world']);
  });

  it('does not cut inside numbers or at a period with no space after it', () => {
    expect(splitSentences('It costs 3.14 dollars.Really. Yes')).toEqual(['It costs 3.14 dollars.Really.', 'Yes']);
  });

  it('keeps closing quotes and brackets with their sentence', () => {
    expect(splitSentences('"Stop!" she said. (Quietly.) Then left.')).toEqual(['"Stop!"', 'she said.', '(Quietly.)', 'Then left.']);
  });

  it('cuts a long sentence at a clause once enough text waits, but never into tiny clauses', () => {
    const long = 'This sentence keeps going for quite a while, with clauses separated by commas, and it has no full stop';
    const pieces = new SentenceAggregator({ clauseChars: 60 }).push(long);
    expect(pieces.length).toBeGreaterThan(0);
    for (const piece of pieces) expect(piece.length).toBeGreaterThanOrEqual(24);
    expect(splitSentences('a, '.repeat(100)).every((piece) => piece.length >= 20)).toBe(true);
  });

  it('cuts at a space when a run of text has no boundary at all', () => {
    const pieces = new SentenceAggregator({ maxChars: 50 }).push('word '.repeat(30));
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(50);
  });

  it('loses and duplicates nothing, however the text is chunked', () => {
    const text = 'One. Two, three; four: five! Six?\nSeven — eight, nine. Ten';
    for (const size of [1, 2, 3, 7, 100]) {
      const aggregator = new SentenceAggregator({ clauseChars: 10 });
      const pieces: string[] = [];
      for (let i = 0; i < text.length; i += size) pieces.push(...aggregator.push(text.slice(i, i + size)));
      pieces.push(aggregator.flush());
      expect(pieces.join(' ').replace(/\s+/g, ' ')).toBe(text.replace(/\s+/g, ' '));
    }
  });
});
