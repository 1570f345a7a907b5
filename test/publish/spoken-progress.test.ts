import { describe, expect, it } from 'vitest';
import { SpokenProgress } from '../../worker/ingress/spoken-progress.ts';

describe('SpokenProgress', () => {
  it('counts written text as unspoken until its words are released, punctuation included', () => {
    const progress = new SpokenProgress(() => 0);
    progress.wrote('Hello, world. ');
    progress.wrote('How are you?');
    expect(progress.unspoken).toBe(26);
    progress.spoke(['Hello', 'world']);
    expect(progress.unspoken).toBe('. How are you?'.length);
    progress.spoke(['How', 'are', 'you']);
    expect(progress.unspoken).toBe(1);
  });

  it('skips words the engine changed or that are far ahead, and recovers on the next one it finds', () => {
    const progress = new SpokenProgress(() => 0);
    progress.wrote('I have 3 cats and a dog. ');
    progress.spoke(['I', 'have', 'three', 'cats']);
    expect(progress.unspoken).toBe(' and a dog. '.length);
    progress.spoke(['zebra', 'dog']);
    expect(progress.unspoken).toBe(2);
  });

  it('does not jump to a coincidental match far ahead', () => {
    const progress = new SpokenProgress(() => 0);
    progress.wrote(`one ${'x '.repeat(100)}target`);
    progress.spoke(['target']);
    expect(progress.unspoken).toBe(4 + 200 + 6);
  });

  it('keeps counting correctly across compaction of long spoken text', () => {
    const progress = new SpokenProgress(() => 0);
    const sentence = 'The quick brown fox jumps over the lazy dog. ';
    for (let i = 0; i < 200; i++) {
      progress.wrote(sentence);
      progress.spoke(sentence.replace('.', '').trim().split(' '));
    }
    expect(progress.unspoken).toBe(2);
    progress.catchUp();
    expect(progress.unspoken).toBe(0);
  });

  it('notes the time of the last progress', () => {
    let now = 5;
    const progress = new SpokenProgress(() => now);
    now = 10;
    progress.sounded();
    expect(progress.lastProgressAt).toBe(10);
  });
});
