/**
 * What Cartesia's TTS WebSocket sends the provider, read leniently (optional and nullable fields, unknown fields
 * ignored) so a new API version does not break the relay; anything else is logged and skipped. The strict shapes
 * the relay itself sends as a Cartesia-compatible server are in shared/cartesia-messages.ts.
 */
import { z } from 'zod';

const contextId = z.string().min(1);
const flushId = z.number().int().nonnegative().nullish();

export const chunkMessageSchema = z.object({
  type: z.literal('chunk'),
  context_id: contextId,
  /** Base64 audio in the context's output format. */
  data: z.string(),
  done: z.boolean().optional(),
  status_code: z.number().int().optional(),
  step_time: z.number().optional(),
  flush_id: flushId,
});

const timeArrays = { start: z.array(z.number()), end: z.array(z.number()) };

export const timestampsMessageSchema = z.object({
  type: z.literal('timestamps'),
  context_id: contextId,
  done: z.boolean().optional(),
  status_code: z.number().int().optional(),
  flush_id: flushId,
  word_timestamps: z.object({ words: z.array(z.string()), ...timeArrays }).nullish(),
});

export const phonemeTimestampsMessageSchema = z.object({
  type: z.literal('phoneme_timestamps'),
  context_id: contextId,
  done: z.boolean().optional(),
  status_code: z.number().int().optional(),
  flush_id: flushId,
  phoneme_timestamps: z.object({ phonemes: z.array(z.string()), ...timeArrays }).nullish(),
});

export const flushDoneMessageSchema = z.object({
  type: z.literal('flush_done'),
  context_id: contextId,
  flush_id: z.number().int().nonnegative(),
  flush_done: z.boolean().optional(),
  done: z.boolean().optional(),
  status_code: z.number().int().optional(),
});

export const doneMessageSchema = z.object({
  type: z.literal('done'),
  context_id: contextId,
  done: z.boolean().optional(),
  status_code: z.number().int().optional(),
});

/** Version 2026 errors carry title/message/error_code; older versions a single `error` string. */
export const errorMessageSchema = z.object({
  type: z.literal('error'),
  context_id: z.string().nullish(),
  status_code: z.number().int().optional(),
  title: z.string().nullish(),
  message: z.string().nullish(),
  error_code: z.string().nullish(),
  error: z.string().nullish(),
  request_id: z.string().nullish(),
  done: z.boolean().optional(),
});

export const lenientCartesiaMessageSchema = z.discriminatedUnion('type', [
  chunkMessageSchema,
  timestampsMessageSchema,
  phonemeTimestampsMessageSchema,
  flushDoneMessageSchema,
  doneMessageSchema,
  errorMessageSchema,
]);

export type LenientCartesiaMessage = z.infer<typeof lenientCartesiaMessageSchema>;
export type CartesiaErrorMessage = z.infer<typeof errorMessageSchema>;

export type ParsedLenientMessage =
  | { ok: true; message: LenientCartesiaMessage }
  | { ok: false; type: string | null; contextId: string | null; reason: string };

/** Validates one decoded server event; failures say what arrived so the caller can log and skip it. */
export function parseLenientMessage(value: unknown): ParsedLenientMessage {
  if (isPlainChunk(value)) return { ok: true, message: value };
  const parsed = lenientCartesiaMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const type = typeof record.type === 'string' ? record.type : null;
  const contextId = typeof record.context_id === 'string' ? record.context_id : null;
  const issue = parsed.error.issues[0];
  const reason = issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid message';
  return { ok: false, type, contextId, reason };
}

/** One message of each kind a context gets, as Cartesia sends them. */
const REHEARSAL_MESSAGES = [
  { type: 'chunk', context_id: 'rehearsal', data: 'AAAAAA==', done: false, status_code: 206, step_time: 1, flush_id: 1 },
  { type: 'timestamps', context_id: 'rehearsal', done: false, status_code: 206, flush_id: 1, word_timestamps: { words: ['Ready.'], start: [0], end: [0.1] } },
  { type: 'flush_done', context_id: 'rehearsal', flush_id: 1, flush_done: true, done: false, status_code: 206 },
  { type: 'done', context_id: 'rehearsal', done: true, status_code: 200 },
];

/**
 * Parses one message of each kind once, so the first utterance's chunks do not pay for zod compiling its
 * schemas on their first use (32 ms measured, the first chunk held back by it).
 */
export function rehearseParsing(): void {
  for (const message of REHEARSAL_MESSAGES) parseLenientMessage(message);
}

type ChunkMessage = z.infer<typeof chunkMessageSchema>;

/**
 * A chunk that passes `chunkMessageSchema` as it is, checked by hand: chunks are nearly every frame, and zod's
 * object parse copied each one (with its 12 KB of base64) on the way to the listeners. Anything else, or a chunk
 * with a field out of shape, takes the schema, which also says what was wrong. Unknown fields are kept, not stripped.
 */
function isPlainChunk(value: unknown): value is ChunkMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    m.type === 'chunk' &&
    typeof m.context_id === 'string' &&
    m.context_id !== '' &&
    typeof m.data === 'string' &&
    (m.done === undefined || typeof m.done === 'boolean') &&
    (m.status_code === undefined || Number.isSafeInteger(m.status_code)) &&
    (m.step_time === undefined || (typeof m.step_time === 'number' && Number.isFinite(m.step_time))) &&
    (m.flush_id === undefined || m.flush_id === null || (Number.isSafeInteger(m.flush_id) && (m.flush_id as number) >= 0))
  );
}
