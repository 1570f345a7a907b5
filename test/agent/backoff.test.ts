import { describe, expect, it } from 'vitest';
import { Backoff } from '../../agent/backoff.ts';

describe('Backoff', () => {
  it('grows from 250 ms to a 10 s ceiling with full jitter, and starts over after reset', () => {
    const top = new Backoff({ random: () => 0.999999 });
    const ceilings = Array.from({ length: 9 }, () => top.next());
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    top.reset();
    expect(top.next()).toBe(250);
    expect(new Backoff({ random: () => 0 }).next()).toBe(0);
  });
});
