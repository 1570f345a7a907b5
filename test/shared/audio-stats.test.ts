import { describe, expect, it } from 'vitest';
import { activeFraction, durationSeconds, peak, rms, toDecibels, windowedRms } from '../../shared/audio-stats.ts';
import { concatFloats, sine } from './signals.ts';

describe('audio stats', () => {
  it('measures a sine: RMS is amplitude / √2, peak is the amplitude', () => {
    const tone = sine(1000, 16000, 16000, 0.5);
    expect(rms(tone)).toBeCloseTo(0.5 / Math.SQRT2, 4);
    expect(peak(tone)).toBeCloseTo(0.5, 4);
    expect(toDecibels(rms(tone))).toBeCloseTo(-9.03, 2);
  });

  it('treats no samples as silence', () => {
    expect([rms(new Float32Array(0)), peak(new Float32Array(0)), activeFraction(new Float32Array(0), 8000)]).toEqual([0, 0, 0]);
    expect(toDecibels(0)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('tells sound from silence by 20 ms windows', () => {
    const halfSound = concatFloats([sine(300, 8000, 8000, 0.3), new Float32Array(8000)]);
    expect(activeFraction(new Float32Array(8000), 8000)).toBe(0);
    expect(activeFraction(halfSound, 8000)).toBeCloseTo(0.5, 2);
    expect(activeFraction(sine(300, 8000, 8000, 0.001), 8000)).toBe(0);
    expect(activeFraction(sine(300, 8000, 8000, 0.001), 8000, -70)).toBe(1);
  });

  it('gives windowed RMS with a shorter last window', () => {
    const windows = windowedRms(new Float32Array([1, 1, 0, 0, 1]), 2);
    expect(Array.from(windows)).toEqual([1, 0, 1]);
    expect(() => windowedRms(new Float32Array(4), 0)).toThrow(RangeError);
  });

  it('converts sample counts to seconds', () => {
    expect(durationSeconds(24000, 48000)).toBe(0.5);
  });
});
