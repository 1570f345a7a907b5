import { describe, expect, it } from 'vitest';
import { SAMPLE_RATES } from '../../shared/audio-format.ts';
import { rms, toDecibels } from '../../shared/audio-stats.ts';
import { RelayError } from '../../shared/errors.ts';
import { createResampler, type Resampler } from '../../shared/resampler.ts';
import { concatFloats, randomChunks, sine, snrDb } from './signals.ts';
import { floatsOf, hasCommand, runTool } from './tools.ts';

const HAS_SOX = hasCommand('sox');

function resampleWhole(input: Float32Array, from: number, to: number, stopbandDb?: number): Float32Array {
  const resampler = createResampler(from, to, stopbandDb);
  return concatFloats([resampler.process(input), resampler.flush()]);
}

function resampleInChunks(resampler: Resampler, input: Float32Array, sizes: number[]): Float32Array {
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    parts.push(resampler.process(input.subarray(offset, offset + size)));
    offset += size;
  }
  parts.push(resampler.flush());
  return concatFloats(parts);
}

/** Level in dB of the output relative to the input, away from the edges. */
function gainDb(input: Float32Array, output: Float32Array): number {
  const edge = Math.floor(output.length / 10);
  return toDecibels(rms(output.subarray(edge, output.length - edge)) / rms(input));
}

const PAIRS = SAMPLE_RATES.flatMap((from) => SAMPLE_RATES.filter((to) => to !== from).map((to) => [from, to] as const));

describe('createResampler', () => {
  it.each(PAIRS)('converts %i Hz to %i Hz: ceil(n × out / in) samples, a 1 kHz tone at unity gain', (from, to) => {
    const input = sine(1000, from, Math.round(from * 0.1) + 7);
    const output = resampleWhole(input, from, to);
    expect(output.length).toBe(Math.ceil((input.length * to) / from));
    expect(Math.abs(gainDb(input, output))).toBeLessThan(0.05);
    // Phase-true: the output is the same tone sampled at the new rate, not merely as loud.
    const edge = Math.floor(output.length / 10);
    expect(snrDb(sine(1000, to, output.length), output, edge, output.length - edge)).toBeGreaterThan(70);
  });

  it.each([
    [22050, 44100],
    [44100, 16000],
    [8000, 48000],
    [48000, 22050],
    [24000, 22050],
    [44100, 8000],
    [48000, 8000],
  ] as const)('gives the same samples for %i → %i whether fed whole or in arbitrary chunks', (from, to) => {
    const input = concatFloats([sine(440, from, 3000, 0.3), sine(3100, from, 2000, 0.6)]);
    const whole = resampleWhole(input, from, to);
    const resampler = createResampler(from, to);
    for (const [seed, maxChunk] of [
      [1, 1],
      [7, 13],
      [42, 700],
      [9, 5000],
    ] as const) {
      expect(resampleInChunks(resampler, input, randomChunks(input.length, seed, maxChunk))).toEqual(whole);
    }
  });

  it('starts over after flush, so the next signal comes out as from a fresh resampler', () => {
    const resampler = createResampler(24000, 16000);
    resampler.process(sine(300, 24000, 1234));
    resampler.flush();
    const input = sine(700, 24000, 2000);
    expect(concatFloats([resampler.process(input), resampler.flush()])).toEqual(resampleWhole(input, 24000, 16000));
    resampler.process(input);
    resampler.reset();
    expect(concatFloats([resampler.process(input), resampler.flush()])).toEqual(resampleWhole(input, 24000, 16000));
  });

  it('keeps time: an impulse at input sample 1000 peaks at output sample 2000 when doubling the rate', () => {
    const input = new Float32Array(3000);
    input[1000] = 1;
    const output = resampleWhole(input, 22050, 44100);
    let at = 0;
    for (let i = 1; i < output.length; i++) if (output[i]! > output[at]!) at = i;
    expect(at).toBe(2000);
  });

  it('passes equal rates through untouched, returning the input array', () => {
    const resampler = createResampler(24000, 24000);
    const input = sine(440, 24000, 100);
    expect(resampler.process(input)).toBe(input);
    expect(resampler.flush().length).toBe(0);
  });

  it('attenuates a 10 kHz tone by more than 40 dB going from 44100 Hz to 16000 Hz (no aliasing to 6 kHz)', () => {
    const input = sine(10000, 44100, 44100 / 2, 0.9);
    const attenuation = -gainDb(input, resampleWhole(input, 44100, 16000));
    console.log(`10 kHz tone, 44100 → 16000 Hz: attenuated by ${attenuation.toFixed(1)} dB`);
    expect(attenuation).toBeGreaterThan(40);
  });

  it('attenuates just above the output Nyquist too: 4.1 kHz from 48000 Hz to 8000 Hz', () => {
    const input = sine(4100, 48000, 24000, 0.9);
    expect(-gainDb(input, resampleWhole(input, 48000, 8000))).toBeGreaterThan(40);
  });

  it.each([
    [44100, 16000, 19000],
    [44100, 16000, 15500],
    [44100, 8000, 19000],
    [44100, 8000, 7500],
    [48000, 8000, 21000],
  ] as const)('stops what a half-band stage would fold into the output band: %i → %i Hz, %i Hz tone below −75 dB', (from, to, tone) => {
    // 44.1 kHz → 8 kHz halves twice first: 19 kHz folds to 3.05 kHz at the first halving, 7.5 kHz to 3.5 kHz at the second.
    // 15.5 kHz folds to 6.55 kHz, above 16 kHz's passband: the half-band lets more through there, the last filter stops it.
    const input = sine(tone, from, from / 2, 0.9);
    expect(-gainDb(input, resampleWhole(input, from, to))).toBeGreaterThan(75);
  });

  it.each([
    [44100, 8000, 4100],
    [44100, 8000, 19000],
    [48000, 8000, 4100],
    [44100, 16000, 8200],
  ] as const)('with a 60 dB stopband (for G.711) still stops aliases and images: %i → %i Hz, %i Hz tone below −57 dB', (from, to, tone) => {
    const input = sine(tone, from, from / 2, 0.9);
    expect(-gainDb(input, resampleWhole(input, from, to, 60))).toBeGreaterThan(57);
  });

  it('with a 60 dB stopband keeps the passband flat and phase-true: 1 kHz from 44100 to 8000 Hz', () => {
    const input = sine(1000, 44100, 4410);
    const output = resampleWhole(input, 44100, 8000, 60);
    expect(output.length).toBe(800);
    expect(Math.abs(gainDb(input, output))).toBeLessThan(0.05);
    expect(snrDb(sine(1000, 8000, 800), output, 80, 720)).toBeGreaterThan(55);
  });

  it('rejects rates that are not whole positive numbers of Hz', () => {
    expect(() => createResampler(0, 16000)).toThrow(RelayError);
    expect(() => createResampler(16000, 22050.5)).toThrow(/22050.5 Hz/);
  });

  it.skipIf(!HAS_SOX)('agrees with sox `rate -v` on a 1 kHz sine from 22050 Hz to 44100 Hz', () => {
    const input = sine(1000, 22050, 22050);
    const ours = resampleWhole(input, 22050, 44100);
    const soxArgs = ['-D', '-t', 'raw', '-r', '22050', '-e', 'floating-point', '-b', '32', '-c', '1', '-'];
    const sox = floatsOf(runTool('sox', [...soxArgs, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-', 'rate', '-v', '44100'], new Uint8Array(input.buffer)).stdout);
    expect(Math.abs(sox.length - ours.length)).toBeLessThanOrEqual(2);
    const snr = snrDb(sox, ours, 2205, 44100 - 2205);
    console.log(`22050 → 44100 Hz, 1 kHz sine: SNR against sox rate -v = ${snr.toFixed(1)} dB`);
    expect(snr).toBeGreaterThan(60);
  });

  it('reports its speed for 22050 → 44100 Hz (logged, not asserted)', () => {
    const seconds = 10;
    const input = sine(440, 22050, 22050 * seconds);
    const resampler = createResampler(22050, 44100);
    resampleInChunks(resampler, input.subarray(0, 22050), [22050]);
    const started = performance.now();
    resampleInChunks(resampler, input, Array.from({ length: Math.ceil(input.length / 1024) }, () => 1024));
    const elapsed = (performance.now() - started) / 1000;
    console.log(`22050 → 44100 Hz: ${(seconds / elapsed).toFixed(0)}× realtime on one core (${seconds} s of audio in ${(elapsed * 1000).toFixed(1)} ms)`);
  });
});
