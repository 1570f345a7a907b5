/** Test signals and comparisons for the audio suites: tones, concatenation, SNR. */

/** `count` samples of a sine at `frequency` Hz. */
export function sine(frequency: number, sampleRate: number, count: number, amplitude = 0.5): Float32Array {
  const samples = new Float32Array(count);
  for (let i = 0; i < count; i++) samples[i] = amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate);
  return samples;
}

export function concatFloats(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Signal-to-noise ratio in dB of `signal` against `reference` over samples [from, to). */
export function snrDb(reference: Float32Array, signal: Float32Array, from = 0, to = reference.length): number {
  let power = 0;
  let noise = 0;
  for (let i = from; i < to; i++) {
    const r = reference[i] ?? 0;
    power += r * r;
    noise += (r - (signal[i] ?? 0)) ** 2;
  }
  return 10 * Math.log10(power / noise);
}

/** Splits `length` into consecutive chunk sizes from a seeded generator (zeros and ones included). */
export function randomChunks(length: number, seed: number, maxChunk: number): number[] {
  const sizes: number[] = [];
  let state = seed >>> 0 || 1;
  let left = length;
  while (left > 0) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const size = Math.min(left, state % (maxChunk + 1));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}
