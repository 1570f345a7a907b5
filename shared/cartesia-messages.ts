/**
 * Cartesia's TTS WebSocket messages (API version 2026-08-14, as sent and expected by @cartesia/cartesia-js 4.x):
 * what a client sends, parsed by the relay's drop-in ingress, and what the server answers.
 */
import { z } from 'zod';
import { ENCODINGS, SAMPLE_RATES } from './audio-format.ts';
import { heardSchema } from './protocol.ts';

/** Cartesia voices are `{mode: 'id', id}`, `{id}` or a bare id; embeddings are not accepted in this version. */
export const cartesiaVoiceSchema = z.union([
  z.string().min(1),
  z.looseObject({ mode: z.literal('id').optional(), id: z.string().min(1) }),
]);

/** Only `raw` is streamed over the WebSocket; wav and mp3 are for the bytes/SSE endpoints. */
export const cartesiaOutputFormatSchema = z.object({
  container: z.literal('raw'),
  encoding: z.enum(ENCODINGS),
  sample_rate: z.union(SAMPLE_RATES.map((rate) => z.literal(rate)) as [z.ZodLiteral<number>, z.ZodLiteral<number>, ...z.ZodLiteral<number>[]]),
});

/** The languages Cartesia's TTS models speak (the SDK's `SupportedLanguage`). */
export const CARTESIA_LANGUAGES = [
  'en', 'fr', 'de', 'es', 'pt', 'zh', 'ja', 'hi', 'it', 'ko', 'nl', 'pl', 'ru', 'sv', 'tr', 'tl', 'bg', 'ro', 'ar', 'cs', 'el', 'fi',
  'hr', 'ms', 'sk', 'da', 'ta', 'uk', 'hu', 'no', 'vi', 'bn', 'th', 'he', 'ka', 'id', 'te', 'gu', 'kn', 'ml', 'mr', 'pa', 'or', 'ur',
] as const;

/** The SDK's `Emotion` primaries and their graded forms are open-ended upstream; the relay checks only the shape. */
export const cartesiaGenerationConfigSchema = z.object({
  speed: z.number().min(0.6).max(1.5).optional(),
  volume: z.number().min(0.5).max(2).optional(),
  emotion: z.string().min(1).max(64).optional(),
});

/** Fields the relay cannot honour: refused with this reason rather than dropped. */
export const CARTESIA_REFUSED_FIELDS = {
  duration: 'a target duration is not available through the relay (it is not in the API versions the official SDK speaks)',
  normalization: 'text normalization options are not available through the relay',
  save: "saving generations to the account's files is not available through the relay",
} as const;

/** Fields only a provider that passes them upstream (Cartesia) can honour; refused with this reason on the others. */
export const CARTESIA_UPSTREAM_FIELDS = {
  pronunciation_dict_id: "pronunciation dictionaries need the Cartesia provider (the relay's engine has none)",
  use_normalized_timestamps: "normalized timestamps need the Cartesia provider (the relay's engine times the text as written)",
} as const;
export type CartesiaUpstreamField = keyof typeof CARTESIA_UPSTREAM_FIELDS;

/**
 * A generation request, as the SDK's `GenerationRequest` types it: the first one for a context opens it; with
 * `continue: true` more follow (each a continuation), an empty transcript with `flush: true` flushes, and
 * `continue: false` (the default) ends it. Unknown fields are ignored, as Cartesia does.
 */
export const cartesiaGenerationRequestSchema = z.object({
  context_id: z.string().min(1).max(256),
  transcript: z.string(),
  model_id: z.string().min(1).max(128),
  voice: cartesiaVoiceSchema,
  output_format: cartesiaOutputFormatSchema,
  language: z.enum(CARTESIA_LANGUAGES).nullish(),
  locale: z.string().max(16).nullish(),
  continue: z.boolean().nullish(),
  flush: z.boolean().nullish(),
  add_timestamps: z.boolean().nullish(),
  add_phoneme_timestamps: z.boolean().nullish(),
  use_normalized_timestamps: z.boolean().nullish(),
  max_buffer_delay_ms: z.number().int().min(0).max(5000).nullish(),
  generation_config: cartesiaGenerationConfigSchema.optional(),
  pronunciation_dict_id: z.string().nullish(),
  normalization: z.string().nullish(),
  duration: z.number().nullish(),
  speed: z.enum(['slow', 'normal', 'fast']).optional(),
});
export type CartesiaGenerationRequest = z.infer<typeof cartesiaGenerationRequestSchema>;

/**
 * The first field a continuation changes among those a context keeps from its first request (all but
 * transcript, continue, flush and duration), or null. A field the continuation leaves out is not a change.
 */
export function cartesiaChangedField(first: CartesiaGenerationRequest, next: CartesiaGenerationRequest): string | null {
  const { transcript: _t, continue: _c, flush: _f, duration: _d, context_id: _id, ...fixed } = next;
  for (const [field, value] of Object.entries(fixed)) {
    if (value === undefined) continue;
    if (JSON.stringify(value) !== JSON.stringify(first[field as keyof CartesiaGenerationRequest] ?? null)) return field;
  }
  return null;
}

/**
 * Why the relay refuses a request it parsed (a field it cannot honour, a model it does not know), or null;
 * `upstream` are the fields of CARTESIA_UPSTREAM_FIELDS the relay's provider passes on.
 */
export function cartesiaRefusal(
  request: { model_id: string; speed?: string | undefined } & Partial<Record<keyof typeof CARTESIA_REFUSED_FIELDS | CartesiaUpstreamField, unknown>>,
  upstream: readonly CartesiaUpstreamField[] = [],
): string | null {
  const refused: Record<string, string> = { ...CARTESIA_REFUSED_FIELDS };
  for (const [field, reason] of Object.entries(CARTESIA_UPSTREAM_FIELDS)) if (!upstream.includes(field as CartesiaUpstreamField)) refused[field] = reason;
  for (const [field, reason] of Object.entries(refused)) {
    const value = request[field as keyof typeof request];
    if (value !== undefined && value !== null && value !== false) return `${field}: ${reason}.`;
  }
  if (request.speed !== undefined && request.speed !== 'normal') return 'speed: use generation_config.speed (0.6 to 1.5).';
  if (!/^sonic(-[a-z0-9.-]+)?$/.test(request.model_id)) return `model_id: ${request.model_id} is not a Cartesia TTS model (e.g. sonic-3).`;
  return null;
}

/** `heard: true` is the relay's extra field (Cartesia has none): answer the cancel with a `done` carrying `heard`. */
export const cartesiaCancelRequestSchema = z.object({ context_id: z.string().min(1), cancel: z.literal(true), heard: z.boolean().optional() });
export type CartesiaCancelRequest = z.infer<typeof cartesiaCancelRequestSchema>;

export type CartesiaClientMessage =
  | { kind: 'generate'; request: CartesiaGenerationRequest }
  | { kind: 'cancel'; request: CartesiaCancelRequest };

/** Parses one client frame; the failure says why, and names the context when the frame had one. */
export function parseCartesiaClientMessage(text: string): { ok: true; message: CartesiaClientMessage } | { ok: false; reason: string; contextId?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'The message is not valid JSON.' };
  }
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  const contextId = typeof record?.context_id === 'string' ? { contextId: record.context_id } : {};
  if (record?.cancel === true) {
    const cancel = cartesiaCancelRequestSchema.safeParse(value);
    if (cancel.success) return { ok: true, message: { kind: 'cancel', request: cancel.data } };
    return { ok: false, reason: 'A cancel request needs a context_id.', ...contextId };
  }
  const parsed = cartesiaGenerationRequestSchema.safeParse(value);
  if (parsed.success) return { ok: true, message: { kind: 'generate', request: parsed.data } };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'Invalid request.', ...contextId };
}

/** The voice id of a request's voice, whichever form it came in. */
export function cartesiaVoiceId(voice: CartesiaGenerationRequest['voice']): string | undefined {
  if (voice === undefined) return undefined;
  return typeof voice === 'string' ? voice : voice.id;
}

// Cartesia's status code on every result message, `done` included (API reference).
export const CARTESIA_PARTIAL = 206;

export const cartesiaChunkSchema = z.object({
  type: z.literal('chunk'),
  context_id: z.string(),
  /** Base64 audio in the context's output format. */
  data: z.string(),
  done: z.literal(false),
  status_code: z.number().int(),
  /** Milliseconds since the previous chunk of this context (or since the request, for the first). */
  step_time: z.number(),
  flush_id: z.number().int().positive().optional(),
});

export const cartesiaTimestampsSchema = z.object({
  type: z.literal('timestamps'),
  context_id: z.string(),
  done: z.literal(false),
  status_code: z.number().int(),
  flush_id: z.number().int().positive().optional(),
  word_timestamps: z.object({ words: z.array(z.string()), start: z.array(z.number()), end: z.array(z.number()) }),
});

export const cartesiaPhonemeTimestampsSchema = z.object({
  type: z.literal('phoneme_timestamps'),
  context_id: z.string(),
  done: z.literal(false),
  status_code: z.number().int(),
  flush_id: z.number().int().positive().optional(),
  phoneme_timestamps: z.object({ phonemes: z.array(z.string()), start: z.array(z.number()), end: z.array(z.number()) }),
});

export const cartesiaFlushDoneSchema = z.object({
  type: z.literal('flush_done'),
  context_id: z.string(),
  flush_id: z.number().int().positive(),
  flush_done: z.literal(true),
  done: z.literal(false),
  status_code: z.number().int(),
});

export const cartesiaDoneSchema = z.object({
  type: z.literal('done'),
  context_id: z.string(),
  done: z.literal(true),
  status_code: z.number().int(),
  /** The relay's extra field (Cartesia has none): what the stream's listeners heard of this context. */
  heard: heardSchema.optional(),
});

/** An error as the SDK's `WebsocketResponse.Error` types it; `request_id` names the connection. */
export const cartesiaErrorSchema = z.object({
  type: z.literal('error'),
  context_id: z.string().optional(),
  status_code: z.number().int(),
  title: z.string(),
  message: z.string(),
  // Nullable, as the API reference has it: Cartesia sends null when no specific code applies.
  error_code: z.string().nullable().optional(),
  done: z.boolean().optional(),
  doc_url: z.string().optional(),
  request_id: z.string().optional(),
});

/**
 * The frames a Cartesia server sends, strictly as Cartesia documents them: what the relay's Cartesia-compatible
 * endpoint and the test emulator emit. The provider reads real Cartesia leniently instead
 * (worker/providers/cartesia/schema.ts, `LenientCartesiaMessage`).
 */
export const cartesiaServerMessageSchema = z.discriminatedUnion('type', [
  cartesiaChunkSchema,
  cartesiaTimestampsSchema,
  cartesiaPhonemeTimestampsSchema,
  cartesiaFlushDoneSchema,
  cartesiaDoneSchema,
  cartesiaErrorSchema,
]);
export type CartesiaServerMessage = z.infer<typeof cartesiaServerMessageSchema>;
