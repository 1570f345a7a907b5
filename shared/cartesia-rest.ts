/**
 * Cartesia's TTS REST bodies (`POST /tts/bytes`, `POST /tts/sse`, `POST /access-token`), as the SDK's
 * `TTSGenerateParams`, `TTSGenerateSSEParams` and `AccessTokenCreateParams` type them.
 */
import { z } from 'zod';
import { ENCODINGS, SAMPLE_RATES } from './audio-format.ts';
import { CARTESIA_LANGUAGES, cartesiaGenerationConfigSchema, cartesiaVoiceSchema } from './cartesia-messages.ts';

const sampleRate = z.union(SAMPLE_RATES.map((rate) => z.literal(rate)) as [z.ZodLiteral<number>, z.ZodLiteral<number>, ...z.ZodLiteral<number>[]]);

/** Raw and WAV are served; MP3 is refused (the relay has no MP3 encoder). */
export const cartesiaBytesFormatSchema = z.discriminatedUnion('container', [
  z.object({ container: z.literal('raw'), encoding: z.enum(ENCODINGS), sample_rate: sampleRate }),
  z.object({ container: z.literal('wav'), encoding: z.enum(ENCODINGS), sample_rate: sampleRate }),
]);

const generateFields = {
  model_id: z.string().min(1).max(128),
  transcript: z.string().min(1),
  voice: cartesiaVoiceSchema,
  language: z.enum(CARTESIA_LANGUAGES).nullish(),
  locale: z.string().max(16).nullish(),
  generation_config: cartesiaGenerationConfigSchema.optional(),
  pronunciation_dict_id: z.string().nullish(),
  normalization: z.string().nullish(),
  // Not in the SDK's types (older API versions had it): parsed so that it is refused rather than dropped.
  duration: z.number().nullish(),
  speed: z.enum(['slow', 'normal', 'fast']).optional(),
};

export const cartesiaBytesRequestSchema = z.object({
  ...generateFields,
  output_format: cartesiaBytesFormatSchema,
  save: z.boolean().nullish(),
});
export type CartesiaBytesRequest = z.infer<typeof cartesiaBytesRequestSchema>;

export const cartesiaSSERequestSchema = z.object({
  ...generateFields,
  output_format: z.object({ container: z.literal('raw'), encoding: z.enum(ENCODINGS), sample_rate: sampleRate }),
  context_id: z.string().min(1).max(256).nullish(),
  add_timestamps: z.boolean().nullish(),
  add_phoneme_timestamps: z.boolean().nullish(),
  use_normalized_timestamps: z.boolean().nullish(),
});
export type CartesiaSSERequest = z.infer<typeof cartesiaSSERequestSchema>;

/** Cartesia caps an access token at one hour. */
export const ACCESS_TOKEN_MAX_SECONDS = 3600;

export const cartesiaAccessTokenRequestSchema = z.object({
  expires_in: z.number().int().min(1).max(ACCESS_TOKEN_MAX_SECONDS).nullish(),
  grants: z.object({ tts: z.boolean().nullish(), stt: z.boolean().nullish(), agent: z.boolean().nullish() }).nullish(),
});
