/** Sample codecs: Float32 [-1, 1] to and from each raw encoding (little-endian f32, s16, G.711 μ-law and A-law). */
import type { Encoding } from './audio-format.ts';

// Typed-array views are only byte-compatible with the wire on little-endian hosts (all mainstream ones).
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const S16_SCALE = 32768;
const INV_S16_SCALE = 1 / S16_SCALE;

// G.711 segment ends for the biased 14-bit μ-law magnitude and the 13-bit A-law magnitude.
const MULAW_SEGMENT_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff] as const;
const ALAW_SEGMENT_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;
const MULAW_BIAS = 0x84;
const MULAW_CLIP = 8159;

function segmentOf(magnitude: number, ends: readonly number[]): number {
  let segment = 0;
  while (segment < ends.length && magnitude > (ends[segment] ?? 0)) segment++;
  return segment;
}

/** G.711 μ-law code of a 14-bit linear sample in [-8192, 8191]. */
function mulawFrom14(sample: number): number {
  let value = sample;
  let mask = 0xff;
  if (value < 0) {
    value = -value;
    mask = 0x7f;
  }
  if (value > MULAW_CLIP) value = MULAW_CLIP;
  value += MULAW_BIAS >> 2;
  const segment = segmentOf(value, MULAW_SEGMENT_END);
  if (segment >= 8) return 0x7f ^ mask;
  return ((segment << 4) | ((value >> (segment + 1)) & 0x0f)) ^ mask;
}

/** 16-bit linear value of a G.711 μ-law code. */
export function mulawToLinear(code: number): number {
  const inverted = ~code & 0xff;
  const magnitude = ((((inverted & 0x0f) << 3) + MULAW_BIAS) << ((inverted & 0x70) >> 4)) - MULAW_BIAS;
  // 0 - x rather than -x: negative zero (code 0x7F) must decode to +0, as in ffmpeg and sox.
  return inverted & 0x80 ? 0 - magnitude : magnitude;
}

/** G.711 A-law code of a 13-bit linear sample in [-4096, 4095]. */
function alawFrom13(sample: number): number {
  let value = sample;
  let mask = 0xd5;
  if (value < 0) {
    value = -value - 1;
    mask = 0x55;
  }
  const segment = segmentOf(value, ALAW_SEGMENT_END);
  if (segment >= 8) return 0x7f ^ mask;
  const quantised = segment < 2 ? (value >> 1) & 0x0f : (value >> segment) & 0x0f;
  return ((segment << 4) | quantised) ^ mask;
}

/** 16-bit linear value of a G.711 A-law code. */
export function alawToLinear(code: number): number {
  const toggled = (code ^ 0x55) & 0xff;
  const mantissa = toggled & 0x0f;
  const segment = (toggled & 0x70) >> 4;
  const magnitude = segment === 0 ? (mantissa * 2 + 1) << 3 : (mantissa * 2 + 33) << (segment + 2);
  return toggled & 0x80 ? magnitude : -magnitude;
}

/**
 * G.711 μ-law code of a 16-bit linear sample: rounded to the 14 bits μ-law resolves, then
 * quantised on the G.711 decision intervals (bit-exact with sox).
 */
export function linearToMulaw(sample: number): number {
  return mulawFrom14(Math.min(8191, (sample + 2) >> 2));
}

/**
 * G.711 A-law code of a 16-bit linear sample: rounded to the 13 bits A-law resolves, then
 * quantised on the G.711 decision intervals (bit-exact with sox).
 */
export function linearToAlaw(sample: number): number {
  return alawFrom13(Math.min(4095, (sample + 4) >> 3));
}

interface G711Tables {
  /** Code by rounded linear sample at `scale` (8192 for 14-bit μ-law, 4096 for 13-bit A-law), offset by `scale`. */
  encode: Uint8Array;
  scale: number;
  decode: Float32Array;
}

let mulawTables: G711Tables | undefined;
let alawTables: G711Tables | undefined;

function buildTables(scale: number, toCode: (s: number) => number, toLinear: (c: number) => number): G711Tables {
  const encode = new Uint8Array(2 * scale);
  for (let i = 0; i < encode.length; i++) encode[i] = toCode(i - scale);
  const decode = new Float32Array(256);
  for (let code = 0; code < 256; code++) decode[code] = toLinear(code) * INV_S16_SCALE;
  return { encode, scale, decode };
}

function g711Tables(encoding: 'pcm_mulaw' | 'pcm_alaw'): G711Tables {
  if (encoding === 'pcm_mulaw') return (mulawTables ??= buildTables(8192, mulawFrom14, mulawToLinear));
  return (alawTables ??= buildTables(4096, alawFrom13, alawToLinear));
}

/** A float sample as a clipped, rounded 16-bit integer; NaN becomes 0. */
function toInt16(x: number): number {
  const scaled = x * S16_SCALE;
  if (scaled >= 32767) return 32767;
  if (scaled <= -32768) return -32768;
  if (scaled !== scaled) return 0;
  return Math.round(scaled);
}

function clipUnit(x: number): number {
  if (x >= 1) return 1;
  if (x <= -1) return -1;
  return x === x ? x : 0;
}

function isAligned(bytes: Uint8Array, size: number): boolean {
  return bytes.byteOffset % size === 0;
}

function decodeF32(bytes: Uint8Array, count: number): Float32Array {
  if (LITTLE_ENDIAN) {
    if (isAligned(bytes, 4)) return new Float32Array(bytes.buffer, bytes.byteOffset, count).slice();
    // Uint8Array's own slice: a Node Buffer's slice() is a view, and its .buffer the whole pool.
    return new Float32Array(Uint8Array.prototype.slice.call(bytes, 0, count * 4).buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function decodeS16(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN && isAligned(bytes, 2)) {
    const input = new Int16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = input[i]! * INV_S16_SCALE;
    return out;
  }
  for (let i = 0, j = 0; i < count; i++, j += 2) out[i] = (((bytes[j]! | (bytes[j + 1]! << 8)) << 16) >> 16) * INV_S16_SCALE;
  return out;
}

function decodeG711(tables: G711Tables, bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const table = tables.decode;
  for (let i = 0; i < count; i++) out[i] = table[bytes[i]!]!;
  return out;
}

function encodeF32(samples: Float32Array): Uint8Array {
  const count = samples.length;
  if (LITTLE_ENDIAN) {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = clipUnit(samples[i]!);
    return new Uint8Array(out.buffer);
  }
  const out = new Uint8Array(count * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(i * 4, clipUnit(samples[i]!), true);
  return out;
}

function encodeS16(samples: Float32Array): Uint8Array {
  const count = samples.length;
  if (LITTLE_ENDIAN) {
    const out = new Int16Array(count);
    for (let i = 0; i < count; i++) out[i] = toInt16(samples[i]!);
    return new Uint8Array(out.buffer);
  }
  const out = new Uint8Array(count * 2);
  for (let i = 0, j = 0; i < count; i++, j += 2) {
    const value = toInt16(samples[i]!);
    out[j] = value & 0xff;
    out[j + 1] = (value >> 8) & 0xff;
  }
  return out;
}

function encodeG711(tables: G711Tables, samples: Float32Array): Uint8Array {
  const count = samples.length;
  const out = new Uint8Array(count);
  const { encode: table, scale } = tables;
  const top = scale - 1;
  for (let i = 0; i < count; i++) {
    // Round straight to the resolution of the law, not through 16 bits, so floats and s16 agree with sox.
    const scaled = samples[i]! * scale;
    const rounded = scaled >= top ? top : scaled <= -scale ? -scale : scaled === scaled ? Math.round(scaled) : 0;
    out[i] = table[rounded + scale]!;
  }
  return out;
}

/**
 * Decodes raw little-endian samples to Float32 in [-1, 1]. Accepts a view at any byte offset;
 * a trailing partial sample is ignored. The result never aliases the input.
 */
export function decodeSamples(encoding: Encoding, bytes: Uint8Array): Float32Array {
  switch (encoding) {
    case 'pcm_f32le':
      return decodeF32(bytes, bytes.byteLength >> 2);
    case 'pcm_s16le':
      return decodeS16(bytes, bytes.byteLength >> 1);
    case 'pcm_mulaw':
    case 'pcm_alaw':
      return decodeG711(g711Tables(encoding), bytes, bytes.byteLength);
  }
}

/**
 * Like `decodeSamples`, but aligned little-endian f32 comes back as a view of `bytes` rather than a copy: for
 * readers that are done with the samples before the bytes can change.
 */
export function readSamples(encoding: Encoding, bytes: Uint8Array): Float32Array {
  if (encoding === 'pcm_f32le' && LITTLE_ENDIAN && isAligned(bytes, 4)) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  return decodeSamples(encoding, bytes);
}

/**
 * Encodes Float32 samples as raw little-endian bytes, clipping to [-1, 1] (NaN becomes silence).
 * The result is a fresh, aligned buffer.
 */
export function encodeSamples(encoding: Encoding, samples: Float32Array): Uint8Array {
  switch (encoding) {
    case 'pcm_f32le':
      return encodeF32(samples);
    case 'pcm_s16le':
      return encodeS16(samples);
    case 'pcm_mulaw':
    case 'pcm_alaw':
      return encodeG711(g711Tables(encoding), samples);
  }
}
