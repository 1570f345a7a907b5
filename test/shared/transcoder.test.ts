import { describe, expect, it } from 'vitest';
import { type AudioFormat, ENCODINGS, bytesPerSample } from '../../shared/audio-format.ts';
import { decodeSamples, encodeSamples } from '../../shared/codecs.ts';
import { createResampler } from '../../shared/resampler.ts';
import { createTranscoder, type Transcoder } from '../../shared/transcoder.ts';
import { concatBytes, concatFloats, randomChunks, sine } from './signals.ts';

function pushInChunks(transcoder: Transcoder, bytes: Uint8Array, sizes: number[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    parts.push(transcoder.push(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  parts.push(transcoder.flush());
  return concatBytes(parts);
}

describe('createTranscoder', () => {
  it('hands back the very same chunk between equal formats when it holds whole samples', () => {
    const format: AudioFormat = { encoding: 'pcm_f32le', sampleRate: 44100 };
    const transcoder = createTranscoder(format, { ...format });
    const chunk = encodeSamples('pcm_f32le', sine(440, 44100, 256));
    expect(transcoder.push(chunk)).toBe(chunk);
    expect(transcoder.flush().byteLength).toBe(0);
  });

  it.each(ENCODINGS)('re-aligns %s chunks split mid-sample without changing a byte between equal formats', (encoding) => {
    const format: AudioFormat = { encoding, sampleRate: 24000 };
    const bytes = encodeSamples(encoding, sine(440, 24000, 999));
    const transcoder = createTranscoder(format, format);
    for (const seed of [3, 4, 5]) {
      const sizes = randomChunks(bytes.byteLength, seed, 11);
      const parts: Uint8Array[] = [];
      let offset = 0;
      for (const size of sizes) {
        const out = transcoder.push(bytes.subarray(offset, offset + size));
        expect(out.byteLength % bytesPerSample(encoding)).toBe(0);
        parts.push(out);
        offset += size;
      }
      expect(concatBytes(parts)).toEqual(bytes);
    }
  });

  it('drops a dangling partial sample at flush rather than carrying it into the next utterance', () => {
    const format: AudioFormat = { encoding: 'pcm_s16le', sampleRate: 16000 };
    const transcoder = createTranscoder(format, format);
    expect(transcoder.push(new Uint8Array([1, 2, 3])).byteLength).toBe(2);
    transcoder.flush();
    expect(Array.from(transcoder.push(new Uint8Array([4, 5])))).toEqual([4, 5]);
  });

  it('converts the encoding alone exactly as decode then encode would', () => {
    const samples = sine(440, 8000, 800, 0.8);
    const transcoder = createTranscoder({ encoding: 'pcm_s16le', sampleRate: 8000 }, { encoding: 'pcm_mulaw', sampleRate: 8000 });
    const out = concatBytes([transcoder.push(encodeSamples('pcm_s16le', samples)), transcoder.flush()]);
    expect(out).toEqual(encodeSamples('pcm_mulaw', decodeSamples('pcm_s16le', encodeSamples('pcm_s16le', samples))));
  });

  it('resamples as the resampler does, then encodes', () => {
    const samples = sine(440, 44100, 4410);
    const transcoder = createTranscoder({ encoding: 'pcm_f32le', sampleRate: 44100 }, { encoding: 'pcm_s16le', sampleRate: 16000 });
    const out = concatBytes([transcoder.push(encodeSamples('pcm_f32le', samples)), transcoder.flush()]);
    const resampler = createResampler(44100, 16000);
    expect(out).toEqual(encodeSamples('pcm_s16le', concatFloats([resampler.process(samples), resampler.flush()])));
    expect(out.byteLength).toBe(1600 * 2);
  });

  it.each(['pcm_mulaw', 'pcm_alaw'] as const)('resamples toward %s with the 60 dB stopband its companding noise allows, then encodes', (encoding) => {
    const samples = sine(440, 44100, 4410);
    const transcoder = createTranscoder({ encoding: 'pcm_f32le', sampleRate: 44100 }, { encoding, sampleRate: 8000 });
    const out = concatBytes([transcoder.push(encodeSamples('pcm_f32le', samples)), transcoder.flush()]);
    const resampler = createResampler(44100, 8000, 60);
    expect(out).toEqual(encodeSamples(encoding, concatFloats([resampler.process(samples), resampler.flush()])));
  });

  it.each([
    [{ encoding: 'pcm_f32le', sampleRate: 44100 }, { encoding: 'pcm_s16le', sampleRate: 16000 }],
    [{ encoding: 'pcm_s16le', sampleRate: 24000 }, { encoding: 'pcm_mulaw', sampleRate: 8000 }],
    [{ encoding: 'pcm_alaw', sampleRate: 8000 }, { encoding: 'pcm_f32le', sampleRate: 22050 }],
    [{ encoding: 'pcm_f32le', sampleRate: 48000 }, { encoding: 'pcm_f32le', sampleRate: 44100 }],
  ] as [AudioFormat, AudioFormat][])('gives the same bytes from %o to %o however the input is chunked', (from, to) => {
    const bytes = encodeSamples(from.encoding, sine(523, from.sampleRate, Math.round(from.sampleRate * 0.05), 0.7));
    const whole = pushInChunks(createTranscoder(from, to), bytes, [bytes.byteLength]);
    const transcoder = createTranscoder(from, to);
    for (const [seed, maxChunk] of [
      [1, 1],
      [2, 7],
      [3, 301],
    ] as const) {
      expect(pushInChunks(transcoder, bytes, randomChunks(bytes.byteLength, seed, maxChunk))).toEqual(whole);
    }
    const samplesIn = bytes.byteLength / bytesPerSample(from.encoding);
    expect(whole.byteLength / bytesPerSample(to.encoding)).toBe(Math.ceil((samplesIn * to.sampleRate) / from.sampleRate));
  });
});
