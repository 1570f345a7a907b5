import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AudioFormat, ENCODINGS, type Encoding } from '../../shared/audio-format.ts';
import { decodeSamples, encodeSamples } from '../../shared/codecs.ts';
import { RelayError } from '../../shared/errors.ts';
import { patchWavSizes, parseWav, WAV_RIFF_SIZE_OFFSET, WAV_UNKNOWN_SIZE, wavHeader, wavHeaderBytes, wavPadding } from '../../shared/wav.ts';
import { concatBytes, sine } from './signals.ts';
import { hasCommand, runTool } from './tools.ts';

const HAS_FFPROBE = hasCommand('ffprobe');
const HAS_FFMPEG = hasCommand('ffmpeg');
const HAS_SOX = hasCommand('sox');

const CODEC_NAMES: Record<Encoding, string> = { pcm_f32le: 'pcm_f32le', pcm_s16le: 'pcm_s16le', pcm_mulaw: 'pcm_mulaw', pcm_alaw: 'pcm_alaw' };

const dir = mkdtempSync(join(tmpdir(), 'tts-relay-wav-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A finished WAV file of `count` samples of a tone, padded as RIFF wants. */
function wavFile(format: AudioFormat, count: number): { file: Uint8Array; data: Uint8Array } {
  const data = encodeSamples(format.encoding, sine(440, format.sampleRate, count));
  const file = concatBytes([wavHeader(format, data.byteLength), data, new Uint8Array(wavPadding(data.byteLength))]);
  return { file, data };
}

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

describe('wavHeader', () => {
  it('writes the canonical 44-byte PCM header for s16', () => {
    const header = wavHeader({ encoding: 'pcm_s16le', sampleRate: 24000 }, 4800);
    const view = new DataView(header.buffer);
    expect(header.byteLength).toBe(44);
    expect(ascii(header, 0, 4) + ascii(header, 8, 16) + ascii(header, 36, 40)).toBe('RIFFWAVEfmt data');
    expect({
      riff: view.getUint32(4, true),
      fmtSize: view.getUint32(16, true),
      tag: view.getUint16(20, true),
      channels: view.getUint16(22, true),
      rate: view.getUint32(24, true),
      byteRate: view.getUint32(28, true),
      blockAlign: view.getUint16(32, true),
      bits: view.getUint16(34, true),
      data: view.getUint32(40, true),
    }).toEqual({ riff: 36 + 4800, fmtSize: 16, tag: 1, channels: 1, rate: 24000, byteRate: 48000, blockAlign: 2, bits: 16, data: 4800 });
  });

  it.each([
    ['pcm_f32le', 3, 32],
    ['pcm_mulaw', 7, 8],
    ['pcm_alaw', 6, 8],
  ] as const)('writes %s with tag %i, an 18-byte fmt chunk and a fact chunk, as ffmpeg and sox do', (encoding, tag, bits) => {
    const header = wavHeader({ encoding, sampleRate: 8000 }, 800);
    const view = new DataView(header.buffer);
    expect(header.byteLength).toBe(wavHeaderBytes(encoding));
    expect(header.byteLength).toBe(58);
    expect([view.getUint32(16, true), view.getUint16(20, true), view.getUint16(34, true), view.getUint16(36, true)]).toEqual([18, tag, bits, 0]);
    expect(ascii(header, 38, 42)).toBe('fact');
    expect(view.getUint32(46, true)).toBe(800 / (bits / 8));
    expect(ascii(header, 50, 54)).toBe('data');
    expect(view.getUint32(54, true)).toBe(800);
    expect(view.getUint32(WAV_RIFF_SIZE_OFFSET, true)).toBe(50 + 800);
  });

  it('counts the RIFF pad byte after an odd number of 8-bit samples', () => {
    const header = wavHeader({ encoding: 'pcm_mulaw', sampleRate: 8000 }, 801);
    expect(wavPadding(801)).toBe(1);
    expect(u32(header, WAV_RIFF_SIZE_OFFSET)).toBe(58 - 8 + 801 + 1);
    expect(u32(header, 54)).toBe(801);
  });

  it('patches the sizes of a header started with unknown length into what wavHeader writes for the final length', () => {
    for (const encoding of ENCODINGS) {
      const format: AudioFormat = { encoding, sampleRate: 16000 };
      const header = wavHeader(format, WAV_UNKNOWN_SIZE);
      expect(u32(header, header.byteLength - 4)).toBe(WAV_UNKNOWN_SIZE);
      patchWavSizes(header, 3200);
      expect(header).toEqual(wavHeader(format, 3200));
    }
  });

  it('rejects sizes a RIFF file cannot hold', () => {
    expect(() => wavHeader({ encoding: 'pcm_s16le', sampleRate: 16000 }, -1)).toThrow(RangeError);
    expect(() => wavHeader({ encoding: 'pcm_s16le', sampleRate: 16000 }, 2 ** 32)).toThrow(RangeError);
    expect(() => patchWavSizes(new Uint8Array(40), 0)).toThrow(RangeError);
  });
});

describe('parseWav', () => {
  it.each(ENCODINGS)('reads back the format and samples of a %s file it wrote', (encoding) => {
    const format: AudioFormat = { encoding, sampleRate: 22050 };
    const { file, data } = wavFile(format, 1001);
    const parsed = parseWav(file);
    expect(parsed.format).toEqual(format);
    expect(parsed.data).toEqual(data);
  });

  it('takes the samples up to the end of the file while the sizes are still unknown', () => {
    const data = encodeSamples('pcm_s16le', sine(440, 16000, 300));
    const file = concatBytes([wavHeader({ encoding: 'pcm_s16le', sampleRate: 16000 }, WAV_UNKNOWN_SIZE), data, new Uint8Array([7])]);
    expect(parseWav(file).data).toEqual(data);
  });

  it('explains what it cannot read with the error codes of the relay', () => {
    const stereo = wavHeader({ encoding: 'pcm_s16le', sampleRate: 16000 }, 0);
    new DataView(stereo.buffer).setUint16(22, 2, true);
    const rate = wavHeader({ encoding: 'pcm_s16le', sampleRate: 16000 }, 0);
    new DataView(rate.buffer).setUint32(24, 11025, true);
    const bits = wavHeader({ encoding: 'pcm_s16le', sampleRate: 16000 }, 0);
    new DataView(bits.buffer).setUint16(34, 24, true);
    const codeOf = (bytes: Uint8Array) => {
      try {
        parseWav(bytes);
        return 'parsed';
      } catch (err) {
        return err instanceof RelayError ? err.code : String(err);
      }
    };
    expect([codeOf(new Uint8Array(10)), codeOf(stereo), codeOf(rate), codeOf(bits)]).toEqual([
      'bad_request',
      'bad_request',
      'unsupported_sample_rate',
      'unsupported_encoding',
    ]);
  });

  it.skipIf(!HAS_FFMPEG)('reads what ffmpeg writes: WAVE_FORMAT_EXTENSIBLE float with a LIST chunk, and μ-law', () => {
    const samples = sine(440, 24000, 2400);
    for (const [codec, encoding] of [
      ['pcm_f32le', 'pcm_f32le'],
      ['pcm_mulaw', 'pcm_mulaw'],
    ] as const) {
      const args = ['-v', 'error', '-f', 'f32le', '-ar', '24000', '-i', '-', '-c:a', codec, '-f', 'wav', '-'];
      const parsed = parseWav(runTool('ffmpeg', args, new Uint8Array(samples.buffer)).stdout);
      expect(parsed.format).toEqual({ encoding, sampleRate: 24000 });
      expect(parsed.data.byteLength).toBe(2400 * (encoding === 'pcm_f32le' ? 4 : 1));
      if (encoding === 'pcm_f32le') expect(decodeSamples(encoding, parsed.data)).toEqual(samples);
    }
  });
});

describe('the files as the tools see them', () => {
  it.skipIf(!HAS_FFPROBE)('ffprobe reads every encoding with the right codec, rate, channel count and length', () => {
    for (const encoding of ENCODINGS) {
      const path = join(dir, `${encoding}.wav`);
      writeFileSync(path, wavFile({ encoding, sampleRate: 16000 }, 8001).file);
      const { stdout, stderr } = runTool('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]);
      expect(stderr).toBe('');
      const [stream] = (JSON.parse(new TextDecoder().decode(stdout)) as { streams: Record<string, unknown>[] }).streams;
      expect(stream).toMatchObject({ codec_name: CODEC_NAMES[encoding], sample_rate: '16000', channels: 1, duration_ts: 8001 });
    }
  });

  it.skipIf(!HAS_SOX)('sox reads every encoding without a warning and finds the samples', () => {
    for (const encoding of ENCODINGS) {
      const path = join(dir, `sox-${encoding}.wav`);
      writeFileSync(path, wavFile({ encoding, sampleRate: 8000 }, 801).file);
      const { stdout, stderr } = runTool('sox', ['-V2', path, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-']);
      expect(stderr).toBe('');
      expect(stdout.byteLength).toBe(801 * 4);
    }
  });
});
