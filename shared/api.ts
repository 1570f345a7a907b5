/** HTTP API bodies: what `speak`, `cancel` and stream status accept and answer. */
import { z } from 'zod';
import { encodingSchema, sampleRateSchema } from './audio-format.ts';
import { END_REASONS, errorInfoSchema, heardSchema, isValidStreamName } from './protocol.ts';

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/** Query options of speak: what to say it with. Unknown keys are ignored; known ones are validated. */
export const speakQuerySchema = z.object({
  voice: z.string().min(1).max(128).optional(),
  language: z.string().min(2).max(16).optional(),
  model: z.string().min(1).max(64).optional(),
  buffering: z.enum(['relay', 'provider']).optional(),
  /** Cartesia generation_config ranges. */
  speed: z.coerce.number().min(0.6).max(1.5).optional(),
  volume: z.coerce.number().min(0.5).max(2).optional(),
  emotion: z.string().min(1).max(32).optional(),
  phoneme_timestamps: flag.optional(),
  wait: flag.optional(),
  interrupt: flag.optional(),
});
export type SpeakQuery = z.infer<typeof speakQuerySchema>;

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
  /** What listeners heard of it: the LLM history to keep after a barge-in is `heard.text`. */
  heard: heardSchema.optional(),
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
  /**
   * This instance's listeners and how far each reported playing: null fields for a listener that reports
   * nothing. `lag_seconds` is audio sent to it and not yet reported played.
   */
  positions: z
    .array(
      z.object({
        listener_id: z.string(),
        utterance: z.number().int().nullable(),
        seconds: z.number().nonnegative().nullable(),
        lag_seconds: z.number().nonnegative().nullable(),
        reported_ms_ago: z.number().nonnegative().nullable(),
      }),
    )
    .optional(),
});
export type StreamStatus = z.infer<typeof streamStatusSchema>;

/** A voice the relay's provider speaks with: `id` is what `?voice=` (and `say --voice`) takes. */
export const voiceSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** The language it speaks, as the provider names it (espeak: `en-gb`; Cartesia: `en`). */
  language: z.string(),
});
export type Voice = z.infer<typeof voiceSchema>;

/** Answer of GET /v1/voices. */
export const voiceListSchema = z.object({ provider: z.string(), default: z.string(), voices: z.array(voiceSchema) });
export type VoiceList = z.infer<typeof voiceListSchema>;

/** One stream in GET /v1/streams. */
export const streamSummarySchema = z.object({
  stream: z.string(),
  /** Listeners on the instance that answers. */
  listeners: z.number().int().nonnegative(),
  /** Utterances waiting behind the current one. */
  queue_length: z.number().int().nonnegative(),
  current: streamStatusSchema.shape.current,
});
export type StreamSummary = z.infer<typeof streamSummarySchema>;

/** Answer of GET /v1/streams: the streams the credential covers, by name. */
export const streamListSchema = z.object({ streams: z.array(streamSummarySchema) });
export type StreamList = z.infer<typeof streamListSchema>;

/** What a scoped token may do; `status` of a stream is allowed by any of them. */
export const TOKEN_ACTIONS = ['speak', 'listen', 'cancel'] as const;
export type TokenAction = (typeof TOKEN_ACTIONS)[number];

/** A token's stream scope: an exact stream name, `prefix/*` (every stream under `prefix/`, at any depth) or `*`. */
export function isValidStreamScope(scope: string): boolean {
  if (scope === '*') return true;
  return isValidStreamName(scope.endsWith('/*') ? scope.slice(0, -2) : scope);
}

/** JSON body of POST /v1/tokens (admin only). Unknown fields are refused, so a typo cannot widen a token. */
export const tokenRequestSchema = z.strictObject({
  streams: z.array(z.string().refine(isValidStreamScope, 'each stream is a stream name, prefix/* or *')).min(1).max(64),
  actions: z.array(z.enum(TOKEN_ACTIONS)).min(1).max(TOKEN_ACTIONS.length),
  /** Seconds until the token expires; the relay's default when absent, never above its maximum. */
  expires_in: z.number().int().positive().optional(),
  /** Requests per second this token may make (token bucket refill), and its burst. */
  rate: z.number().positive().max(10_000).optional(),
  burst: z.number().int().positive().max(100_000).optional(),
  /** Who or what the token is for; kept in the token as `sub` and in logs. */
  label: z.string().regex(/^[\w .@:/-]{1,128}$/, '1-128 characters of letters, digits, space and _ . @ : / -').optional(),
});
export type TokenRequest = z.infer<typeof tokenRequestSchema>;

export const tokenResponseSchema = z.object({
  token: z.string(),
  token_id: z.string(),
  streams: z.array(z.string()),
  actions: z.array(z.enum(TOKEN_ACTIONS)),
  expires_at: z.string(),
  expires_in: z.number().int().positive(),
  rate: z.number().positive(),
  burst: z.number().int().positive(),
  label: z.string().optional(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;
