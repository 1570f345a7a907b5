/** Audio formats the relay speaks (Cartesia's raw encodings, mono) and the byte/duration math over them. */
import { z } from 'zod';

export const ENCODINGS = ['pcm_f32le', 'pcm_s16le', 'pcm_mulaw', 'pcm_alaw'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Cartesia's accepted output rates. */
export const SAMPLE_RATES = [8000, 16000, 22050, 24000, 44100, 48000] as const;
export type SampleRate = (typeof SAMPLE_RATES)[number];

export const encodingSchema = z.enum(ENCODINGS);
export const sampleRateSchema = z.union(SAMPLE_RATES.map((rate) => z.literal(rate)) as [z.ZodLiteral<SampleRate>, z.ZodLiteral<SampleRate>, ...z.ZodLiteral<SampleRate>[]]);

export interface AudioFormat {
  encoding: Encoding;
  sampleRate: SampleRate;
}

export const audioFormatSchema = z.object({ encoding: encodingSchema, sampleRate: sampleRateSchema });

/** What a listener gets when it asks for nothing: what Cartesia and ffplay both handle natively. */
export const DEFAULT_FORMAT: AudioFormat = { encoding: 'pcm_f32le', sampleRate: 44100 };

const BYTES_PER_SAMPLE: Record<Encoding, number> = { pcm_f32le: 4, pcm_s16le: 2, pcm_mulaw: 1, pcm_alaw: 1 };

export function bytesPerSample(encoding: Encoding): number {
  return BYTES_PER_SAMPLE[encoding];
}

export function isEncoding(value: unknown): value is Encoding {
  return typeof value === 'string' && (ENCODINGS as readonly string[]).includes(value);
}

export function isSampleRate(value: unknown): value is SampleRate {
  return typeof value === 'number' && (SAMPLE_RATES as readonly number[]).includes(value);
}

export function samplesIn(format: AudioFormat, byteLength: number): number {
  return Math.floor(byteLength / bytesPerSample(format.encoding));
}

export function bytesFor(format: AudioFormat, samples: number): number {
  return samples * bytesPerSample(format.encoding);
}

export function secondsOf(format: AudioFormat, byteLength: number): number {
  return samplesIn(format, byteLength) / format.sampleRate;
}

export function bytesPerSecond(format: AudioFormat): number {
  return format.sampleRate * bytesPerSample(format.encoding);
}

/** A stable key for a format, e.g. `pcm_s16le@24000`: one converter and one frame encoding per key. */
export function formatKey(format: AudioFormat): string {
  return `${format.encoding}@${format.sampleRate}`;
}

export function sameFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.encoding === b.encoding && a.sampleRate === b.sampleRate;
}
