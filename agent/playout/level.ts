/** `--volume` (a factor or decibels) and `--chime` (a WAV file, resampled to the stream's rate). */
import { readFileSync } from 'node:fs';
import { decodeSamples } from '../../shared/codecs.ts';
import { createResampler } from '../../shared/resampler.ts';
import { parseWav } from '../../shared/wav.ts';
import { AgentError, usageError } from '../agent-error.ts';

/** "0.5" → 0.5, "-6dB" → 0.501; from silence (0) to +12 dB. */
export function parseVolume(value: string): number {
  const db = /^([+-]?\d+(?:\.\d+)?)\s*db$/i.exec(value.trim());
  const gain = db ? 10 ** (Number(db[1]) / 20) : /^\d+(?:\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(gain) || gain < 0 || gain > 4) throw usageError(`--volume is a factor from 0 to 4 (0.5) or decibels up to +12 (-6dB); got "${value}"`);
  return gain;
}

export function applyGain(samples: Float32Array, gain: number): Float32Array {
  if (gain !== 1) for (let i = 0; i < samples.length; i++) samples[i]! *= gain;
  return samples;
}

/** A chime file's samples at `rate`; throws an AgentError naming the file when it is not a mono WAV we read. */
export function loadChime(path: string, rate: number): Float32Array {
  let parsed: ReturnType<typeof parseWav>;
  try {
    parsed = parseWav(new Uint8Array(readFileSync(path)));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new AgentError('output_failed', `cannot use --chime ${path}: ${why}`, { cause: error });
  }
  const samples = decodeSamples(parsed.format.encoding, parsed.data);
  if (parsed.format.sampleRate === rate) return samples;
  const resampler = createResampler(parsed.format.sampleRate, rate);
  const head = resampler.process(samples);
  const tail = resampler.flush();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
