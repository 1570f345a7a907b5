import { describe, expect, it } from 'vitest';
import { ENCODINGS, type Encoding } from '../../shared/audio-format.ts';
import { alawToLinear, decodeSamples, encodeSamples, linearToAlaw, linearToMulaw, mulawToLinear } from '../../shared/codecs.ts';
import { sine } from './signals.ts';
import { hasCommand, runTool } from './tools.ts';

const HAS_SOX = hasCommand('sox');
const HAS_FFMPEG = hasCommand('ffmpeg');

/** Every 16-bit value, as raw s16le bytes and as the floats that map onto them exactly. */
function everyS16(): { bytes: Uint8Array; floats: Float32Array; values: Int16Array } {
  const values = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) values[i] = i - 32768;
  const floats = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) floats[i] = values[i]! / 32768;
  return { bytes: new Uint8Array(values.buffer), floats, values };
}

// Codes sox 14.4.2 writes for these 16-bit inputs (`sox -D -t raw -e signed -b 16 … -e mu-law|a-law`).
const SOX_CODES: [linear: number, mulaw: number, alaw: number][] = [
  [0, 0xff, 0xd5],
  [1, 0xff, 0xd5],
  [-1, 0xff, 0xd5],
  [2, 0xfe, 0xd5],
  [-3, 0x7e, 0xd5],
  [5, 0xfe, 0xd5],
  [-5, 0x7e, 0x55],
  [100, 0xf2, 0xd3],
  [-100, 0x72, 0x50],
  [1000, 0xce, 0xfa],
  [-1000, 0x4e, 0x7a],
  [4096, 0xaf, 0x85],
  [-4096, 0x2f, 0x1a],
  [8000, 0xa0, 0x8a],
  [-8000, 0x20, 0x0a],
  [20000, 0x8c, 0xa6],
  [-20000, 0x0c, 0x26],
  [32767, 0x80, 0xaa],
  [-32768, 0x00, 0x2a],
];

/** Largest round-trip error a codec may add to a sample of magnitude `x` inside its range. */
function tolerance(encoding: Encoding, x: number): number {
  switch (encoding) {
    case 'pcm_f32le':
      return 0;
    case 'pcm_s16le':
      return 0.5 / 32768 + 1e-9;
    // Half a quantisation step: steps are 1/16 of the segment's lower bound, plus the finest step near zero.
    case 'pcm_mulaw':
      return Math.abs(x) / 32 + 8 / 32768;
    case 'pcm_alaw':
      return Math.abs(x) / 32 + 16 / 32768;
  }
}

describe('G.711 scalar codecs', () => {
  it('encodes the textbook anchors: silence, full scale positive and negative', () => {
    expect(linearToMulaw(0)).toBe(0xff);
    expect(linearToMulaw(32767)).toBe(0x80);
    expect(linearToMulaw(-32768)).toBe(0x00);
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
  });

  it('decodes the anchors to the G.711 reconstruction values', () => {
    expect([0x00, 0x7f, 0x80, 0xfe, 0xff].map(mulawToLinear)).toEqual([-32124, 0, 32124, 8, 0]);
    expect([0x2a, 0x55, 0xaa, 0xd5].map(alawToLinear)).toEqual([-32256, -8, 32256, 8]);
  });

  it('matches the codes sox writes for a table of samples', () => {
    for (const [linear, mulaw, alaw] of SOX_CODES) {
      expect({ linear, mulaw: linearToMulaw(linear), alaw: linearToAlaw(linear) }).toEqual({ linear, mulaw, alaw });
    }
  });
});

describe('decodeSamples / encodeSamples', () => {
  it.each(ENCODINGS)('round-trips %s within its quantisation error', (encoding) => {
    const samples = new Float32Array(4001);
    for (let i = 0; i < samples.length; i++) samples[i] = -0.97 + (1.94 * i) / (samples.length - 1);
    const bytes = encodeSamples(encoding, samples);
    expect(bytes.byteLength).toBe(samples.length * (encoding === 'pcm_f32le' ? 4 : encoding === 'pcm_s16le' ? 2 : 1));
    const decoded = decodeSamples(encoding, bytes);
    expect(decoded.length).toBe(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i]!;
      expect(Math.abs(decoded[i]! - x), `sample ${x}`).toBeLessThanOrEqual(tolerance(encoding, x));
    }
  });

  it.each(ENCODINGS)('decodes %s from a view at any byte offset the same as from an aligned copy', (encoding) => {
    const bytes = encodeSamples(encoding, sine(440, 8000, 257));
    const expected = decodeSamples(encoding, bytes);
    for (const offset of [1, 2, 3, 5]) {
      const backing = new Uint8Array(bytes.byteLength + offset + 3).fill(0xee);
      backing.set(bytes, offset);
      expect(decodeSamples(encoding, backing.subarray(offset, offset + bytes.byteLength))).toEqual(expected);
    }
  });

  it('ignores a trailing partial sample', () => {
    const bytes = encodeSamples('pcm_f32le', new Float32Array([0.25, -0.5]));
    expect(Array.from(decodeSamples('pcm_f32le', bytes.subarray(0, 7)))).toEqual([0.25]);
    expect(Array.from(decodeSamples('pcm_s16le', new Uint8Array([0x00, 0x40, 0x01])))).toEqual([0.5]);
  });

  it('returns samples that do not alias the input bytes', () => {
    const bytes = encodeSamples('pcm_f32le', new Float32Array([0.25]));
    const decoded = decodeSamples('pcm_f32le', bytes);
    bytes.fill(0);
    expect(decoded[0]).toBe(0.25);
  });

  it('clips out-of-range samples and turns NaN into silence', () => {
    const wild = new Float32Array([2, -2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(Array.from(decodeSamples('pcm_f32le', encodeSamples('pcm_f32le', wild)))).toEqual([1, -1, 0, 1, -1]);
    expect(Array.from(new Int16Array(encodeSamples('pcm_s16le', wild).buffer))).toEqual([32767, -32768, 0, 32767, -32768]);
    expect(Array.from(encodeSamples('pcm_mulaw', wild))).toEqual([0x80, 0x00, 0xff, 0x80, 0x00]);
    expect(Array.from(encodeSamples('pcm_alaw', wild))).toEqual([0xaa, 0x2a, 0xd5, 0xaa, 0x2a]);
  });

  it('writes s16 little-endian', () => {
    expect(Array.from(encodeSamples('pcm_s16le', new Float32Array([0.5, -1 / 32768])))).toEqual([0x00, 0x40, 0xff, 0xff]);
  });
});

describe('against the real tools', () => {
  it.skipIf(!HAS_SOX)('encodes every 16-bit value to μ-law and A-law bit-exactly as sox does', () => {
    const { bytes, floats, values } = everyS16();
    const input = ['-D', '-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', '-'];
    for (const [encoding, soxName, scalar] of [
      ['pcm_mulaw', 'mu-law', linearToMulaw],
      ['pcm_alaw', 'a-law', linearToAlaw],
    ] as const) {
      const sox = runTool('sox', [...input, '-t', 'raw', '-e', soxName, '-b', '8', '-'], bytes).stdout;
      expect(Buffer.from(encodeSamples(encoding, floats)).equals(Buffer.from(sox)), `${encoding} from floats`).toBe(true);
      expect(Buffer.from(Uint8Array.from(values, scalar)).equals(Buffer.from(sox)), `${encoding} from s16`).toBe(true);
    }
  });

  it.skipIf(!HAS_FFMPEG)('decodes all 256 codes of each law exactly as ffmpeg does', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const encoding of ['pcm_mulaw', 'pcm_alaw'] as const) {
      const name = encoding === 'pcm_mulaw' ? 'mulaw' : 'alaw';
      const ffmpeg = runTool('ffmpeg', ['-v', 'error', '-f', name, '-ar', '8000', '-i', '-', '-f', 's16le', '-'], codes).stdout;
      const expected = new Int16Array(ffmpeg.slice().buffer);
      expect(Array.from(decodeSamples(encoding, codes), (x) => Math.round(x * 32768))).toEqual(Array.from(expected));
    }
  });

  it.skipIf(!HAS_FFMPEG)('encodes within one quantisation level of ffmpeg, which rounds to the nearest level instead', () => {
    const { bytes, floats } = everyS16();
    for (const encoding of ['pcm_mulaw', 'pcm_alaw'] as const) {
      const decode = encoding === 'pcm_mulaw' ? mulawToLinear : alawToLinear;
      const levels = [...new Set(Array.from({ length: 256 }, (_, code) => decode(code)))].sort((a, b) => a - b);
      const rank = (code: number) => levels.indexOf(decode(code));
      const name = encoding === 'pcm_mulaw' ? 'mulaw' : 'alaw';
      const ffmpeg = runTool('ffmpeg', ['-v', 'error', '-f', 's16le', '-ar', '8000', '-i', '-', '-f', name, '-'], bytes).stdout;
      const ours = encodeSamples(encoding, floats);
      let differing = 0;
      for (let i = 0; i < ours.length; i++) {
        if (ours[i] === ffmpeg[i]) continue;
        differing++;
        expect(Math.abs(rank(ours[i]!) - rank(ffmpeg[i]!)), `input ${i - 32768}`).toBe(1);
      }
      console.log(`${encoding}: ${differing} of 65536 16-bit inputs encode one level apart from ffmpeg`);
      expect(differing).toBeLessThan(65536 * 0.04);
    }
  });
});

describe('Node Buffer input', () => {
  it('decodes f32 from an unaligned Buffer view the same as from a plain Uint8Array', async () => {
    const { Buffer } = await import('node:buffer');
    const samples = new Float32Array([0.5, -0.25, 0.125]);
    const pool = Buffer.alloc(64);
    Buffer.from(samples.buffer).copy(pool, 3);
    const view = pool.subarray(3, 3 + 12);
    expect(Array.from(decodeSamples('pcm_f32le', view))).toEqual([0.5, -0.25, 0.125]);
  });
});
