/** Command lines for FFmpeg's tools to play or read the relay's raw mono audio. */
import type { AudioFormat, Encoding } from './audio-format.ts';

const FFMPEG_FORMATS: Record<Encoding, string> = {
  pcm_f32le: 'f32le',
  pcm_s16le: 's16le',
  pcm_mulaw: 'mulaw',
  pcm_alaw: 'alaw',
};

/** FFmpeg's raw demuxer/muxer name for an encoding (`-f f32le|s16le|mulaw|alaw`). */
export function ffmpegFormatName(encoding: Encoding): string {
  return FFMPEG_FORMATS[encoding];
}

export interface FFplayOptions {
  /** Exit when stdin ends and the audio has played (`-autoexit`), rather than wait to be killed. */
  autoexit?: boolean;
  /** Print the status line (`-stats`: its audio clock, the input second heard now) on stderr. */
  stats?: boolean;
}

/**
 * Arguments for `ffplay` to play raw mono audio from stdin with the least buffering: probing is cut to
 * the minimum so playback starts on the first bytes. No channel flags: raw input defaults to mono, and
 * FFmpeg 7 rejects `-ac` here.
 */
export function ffplayArgs(format: AudioFormat, options: FFplayOptions = {}): string[] {
  return [
    '-f',
    ffmpegFormatName(format.encoding),
    '-ar',
    String(format.sampleRate),
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-nodisp',
    '-loglevel',
    'error',
    ...(options.autoexit ? ['-autoexit'] : []),
    ...(options.stats ? ['-stats'] : []),
    '-',
  ];
}
