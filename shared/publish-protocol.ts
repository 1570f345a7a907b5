/**
 * The publish protocol (`GET /v1/streams/{stream}/publish`): JSON text frames both ways. A publisher sends
 * text, flush, end, cancel and interrupt messages; the relay answers each with exactly one `ack` or `error`,
 * in order, and reports when each of the publisher's utterances ends.
 */
import { z } from 'zod';
import { END_REASONS, errorInfoSchema, heardSchema } from './protocol.ts';

export const PUBLISH_PROTOCOL_VERSION = 1;

/** Optional client-chosen number echoed in the reply, so a publisher can match acks to what it sent. */
const seq = z.number().int().nonnegative().optional();

/** Text for the open utterance; the first text after `end` (or at the start) opens a new one with these options. */
export const publishTextSchema = z.object({
  type: z.literal('text'),
  text: z.string(),
  seq,
  voice: z.string().max(128).optional(),
  language: z.string().max(16).optional(),
  /** When this text opens an utterance: cancel what is playing and clear the stream's queue first (barge-in). */
  interrupt: z.boolean().optional(),
});

/** Speak what the open utterance has so far without waiting for a sentence end. */
export const publishFlushSchema = z.object({ type: z.literal('flush'), seq });

/** The open utterance has no more text; the next `text` opens a new utterance. */
export const publishEndSchema = z.object({ type: z.literal('end'), seq });

/** Stops one utterance of this publisher (default: the open one, else the last one still going). */
export const publishCancelSchema = z.object({ type: z.literal('cancel'), seq, utterance_id: z.string().optional() });

/**
 * Barge-in: cancels what the stream is playing and everything queued on it (any publisher's), and drops
 * this publisher's text not yet accepted. Handled as soon as it arrives, ahead of text waiting for room.
 */
export const publishInterruptSchema = z.object({ type: z.literal('interrupt'), seq });

export const publishClientMessageSchema = z.discriminatedUnion('type', [
  publishTextSchema,
  publishFlushSchema,
  publishEndSchema,
  publishCancelSchema,
  publishInterruptSchema,
]);
export type PublishClientMessage = z.infer<typeof publishClientMessageSchema>;
export type PublishClientType = PublishClientMessage['type'];

/** First message from the relay. */
export const publishReadySchema = z.object({
  type: z.literal('ready'),
  protocol: z.literal(PUBLISH_PROTOCOL_VERSION),
  stream: z.string(),
  publisher_id: z.string(),
  /** Characters of this publisher's text the relay holds not yet spoken before it stops reading the socket. */
  max_pending_chars: z.number().int().positive(),
});

/**
 * A message was accepted. For `text`, `flush` and `end`, `utterance_id` names the utterance it went to.
 * `dropped` marks text that a later cancel or interrupt discarded before it was accepted.
 */
export const publishAckSchema = z.object({
  type: z.literal('ack'),
  for: z.enum(['text', 'flush', 'end', 'cancel', 'interrupt']),
  seq,
  utterance_id: z.string().optional(),
  utterance: z.number().int().nonnegative().optional(),
  /** For cancel and interrupt: the utterances stopped. */
  cancelled: z.array(z.string()).optional(),
  /** For cancel and interrupt: what listeners heard of each utterance stopped while speaking, by its id. */
  heard: z.record(z.string(), heardSchema).optional(),
  dropped: z.literal(true).optional(),
});

/** One of this publisher's utterances finished (spoken, cancelled or failed). */
export const publishUtteranceEndSchema = z.object({
  type: z.literal('utterance_end'),
  utterance_id: z.string(),
  utterance: z.number().int().nonnegative(),
  reason: z.enum(END_REASONS),
  characters: z.number().int().nonnegative(),
  audio_seconds: z.number().nonnegative(),
  first_audio_ms: z.number().nonnegative().nullable(),
  /** What listeners heard of it (see `heardSchema`). */
  heard: heardSchema.optional(),
  error: errorInfoSchema.optional(),
});

/** A message was refused; the socket stays open unless it is closed right after with the error's close code. */
export const publishErrorSchema = z.object({ type: z.literal('error'), seq, error: errorInfoSchema });

export const publishServerMessageSchema = z.discriminatedUnion('type', [
  publishReadySchema,
  publishAckSchema,
  publishUtteranceEndSchema,
  publishErrorSchema,
]);
export type PublishServerMessage = z.infer<typeof publishServerMessageSchema>;
export type PublishAck = z.infer<typeof publishAckSchema>;

/** Parses one text frame from a publisher; a failure says why and keeps the `seq` it carried, if any. */
export function parsePublishClientMessage(text: string): { ok: true; message: PublishClientMessage } | { ok: false; reason: string; seq?: number } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'The message is not JSON.' };
  }
  const parsed = publishClientMessageSchema.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const rawSeq = typeof value === 'object' && value !== null ? (value as { seq?: unknown }).seq : undefined;
  return {
    ok: false,
    reason: `Invalid message (${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'unknown'}); send {"type":"text"|"flush"|"end"|"cancel"|"interrupt", …}.`,
    ...(typeof rawSeq === 'number' && Number.isInteger(rawSeq) && rawSeq >= 0 ? { seq: rawSeq } : {}),
  };
}

/** Parses one text frame from the relay (for clients and tests). */
export function parsePublishServerMessage(text: string): PublishServerMessage | null {
  try {
    const parsed = publishServerMessageSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
