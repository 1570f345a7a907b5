/** HTTP API bodies: what `speak`, `cancel` and stream status accept and answer. */
import { z } from 'zod';
import { encodingSchema, sampleRateSchema } from './audio-format.ts';
import { END_REASONS, errorInfoSchema } from './protocol.ts';

/** JSON body of POST /v1/streams/{stream}/speak. */
export const speakJsonSchema = z.object({
  text: z.string(),
  voice: z.string().max(128).optional(),
  language: z.string().max(16).optional(),
});
export type SpeakJson = z.infer<typeof speakJsonSchema>;

/** One line of an NDJSON speak body: a text chunk, optionally asking the provider to flush what it has. */
export const ndjsonLineSchema = z.object({
  text: z.string().optional(),
  flush: z.boolean().optional(),
});
export type NDJSONLine = z.infer<typeof ndjsonLineSchema>;

export const speakAcceptedSchema = z.object({
  utterance_id: z.string(),
  utterance: z.number().int().nonnegative(),
  stream: z.string(),
});
export type SpeakAccepted = z.infer<typeof speakAcceptedSchema>;

/** Answer of `speak?wait=true`: when the audio is complete, with what it took. */
export const speakCompletedSchema = speakAcceptedSchema.extend({
  reason: z.enum(END_REASONS),
  characters: z.number().int().nonnegative(),
  audio_seconds: z.number().nonnegative(),
  /** From the request's arrival to the first audio sample published to listeners. */
  first_audio_ms: z.number().nonnegative().nullable(),
  total_ms: z.number().nonnegative(),
  error: errorInfoSchema.optional(),
});
export type SpeakCompleted = z.infer<typeof speakCompletedSchema>;

export const cancelResultSchema = z.object({
  stream: z.string(),
  cancelled: z.array(z.string()),
});
export type CancelResult = z.infer<typeof cancelResultSchema>;

export const streamStatusSchema = z.object({
  stream: z.string(),
  listeners: z.number().int().nonnegative(),
  formats: z.array(z.object({ encoding: encodingSchema, sample_rate: sampleRateSchema, listeners: z.number().int() })),
  current: z.object({ utterance_id: z.string(), utterance: z.number().int(), started_at: z.string() }).nullable(),
  queue: z.array(z.object({ utterance_id: z.string(), utterance: z.number().int() })),
  provider: z.string(),
});
export type StreamStatus = z.infer<typeof streamStatusSchema>;
