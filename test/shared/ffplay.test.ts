import { describe, expect, it } from 'vitest';
import { type AudioFormat, ENCODINGS } from '../../shared/audio-format.ts';
import { decodeSamples, encodeSamples } from '../../shared/codecs.ts';
import { ffmpegFormatName, ffplayArgs } from '../../shared/ffplay.ts';
import { sine } from './signals.ts';
import { floatsOf, hasCommand, runTool, runToolAsync } from './tools.ts';

const HAS_FFPLAY = hasCommand('ffplay');
const HAS_FFMPEG = hasCommand('ffmpeg');

describe('ffplayArgs', () => {
  it('names FFmpeg raw formats for every encoding', () => {
    expect(ENCODINGS.map(ffmpegFormatName)).toEqual(['f32le', 's16le', 'mulaw', 'alaw']);
  });

  it('builds the low-latency raw stdin command line, with no channel flags', () => {
    expect(ffplayArgs({ encoding: 'pcm_s16le', sampleRate: 24000 })).toEqual([
      '-f', 's16le', '-ar', '24000', '-probesize', '32', '-analyzeduration', '0', '-nodisp', '-loglevel', 'error', '-',
    ]);
    const args = ffplayArgs({ encoding: 'pcm_mulaw', sampleRate: 8000 }, { autoexit: true });
    expect(args.slice(-2)).toEqual(['-autoexit', '-']);
    expect(args).not.toContain('-ac');
  });

  it.skipIf(!HAS_FFMPEG)('names formats FFmpeg decodes to exactly the samples the codecs decode', () => {
    for (const encoding of ENCODINGS) {
      const format: AudioFormat = { encoding, sampleRate: 16000 };
      const bytes = encodeSamples(encoding, sine(440, 16000, 1600, 0.8));
      const args = ['-v', 'error', '-f', ffmpegFormatName(encoding), '-ar', '16000', '-i', '-', '-f', 'f32le', '-'];
      expect(floatsOf(runTool('ffmpeg', args, bytes).stdout), encoding).toEqual(decodeSamples(format.encoding, bytes));
    }
  });

  it.skipIf(!HAS_FFPLAY)('plays 0.3 s of a tone in every encoding through real ffplay (headless) and exits cleanly', async () => {
    const env = { ...process.env, SDL_AUDIODRIVER: 'dummy' };
    const runs = ENCODINGS.map(async (encoding) => {
      const format: AudioFormat = { encoding, sampleRate: 22050 };
      const bytes = encodeSamples(encoding, sine(440, 22050, Math.round(22050 * 0.3)));
      return { encoding, ...(await runToolAsync('ffplay', ffplayArgs(format, { autoexit: true }), bytes, { env, timeoutMs: 10_000 })) };
    });
    for (const run of await Promise.all(runs)) expect(run).toEqual({ encoding: run.encoding, code: 0, signal: null, stderr: '' });
  });
});
