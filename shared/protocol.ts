/**
 * The listener protocol: JSON control messages in text frames, audio in binary frames.
 * Every frame is validated against these schemas at the boundary, on both ends.
 */
import { z } from 'zod';
import { encodingSchema, sampleRateSchema } from './audio-format.ts';
import { ERROR_CODES, type ErrorCode, type ErrorInfo } from './errors.ts';

/**
 * Version 1 grows only compatibly: the relay may add message types, optional fields and query options
 * that a listener has to ask for, and a listener ignores message types it does not know. The number
 * changes only for what an older listener would misplay: a different binary header, a field changing
 * meaning, a message that must be obeyed. `hello.protocol` carries it; README "Listener protocol".
 */
export const PROTOCOL_VERSION = 1;

/** Stream names: a path-like name safe in URLs, logs and Redis keys. */
export const STREAM_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._/-]{0,127}$/;

/** Route words after a stream name; no stream name may end in one. */
export const STREAM_ACTIONS = ['speak', 'cancel', 'listen', 'publish'] as const;
export type StreamAction = (typeof STREAM_ACTIONS)[number];

export function isValidStreamName(name: string): boolean {
  if (!STREAM_NAME_PATTERN.test(name) || name.includes('..') || name.includes('//') || name.endsWith('/')) return false;
  const last = name.slice(name.lastIndexOf('/') + 1);
  return !(STREAM_ACTIONS as readonly string[]).includes(last);
}

/** Why `name` is not a stream name, pointing at the part that breaks the rule; null when it is one. */
export function streamNameProblem(name: string): string | null {
  if (isValidStreamName(name)) return null;
  const chars = Array.from(name);
  if (chars.length === 0) return 'the name is empty';
  if (name.length > 128) return `it has ${name.length} characters, more than 128`;
  const bad = chars.findIndex((char) => !/[A-Za-z0-9._/-]/.test(char));
  if (bad >= 0) return `character ${bad + 1}, ${JSON.stringify(chars[bad])}, is not one of A-Z a-z 0-9 . _ - /`;
  if (name.startsWith('/') || name.startsWith('.')) return `it starts with "${name[0]}"`;
  if (name.includes('..')) return 'it contains ".."';
  if (name.includes('//') || name.endsWith('/')) return 'it has an empty segment ("//" or a trailing "/")';
  return `it ends in "/${name.slice(name.lastIndexOf('/') + 1)}", a route word`;
}

/**
 * The invalid_stream_name message for `name`: which part breaks the rule, then the rule. The name itself is
 * not repeated: a key pasted in the wrong place must not come back in an answer.
 */
export function describeInvalidStreamName(name: string): string {
  const problem = streamNameProblem(name) ?? 'it breaks the rule';
  return `Not a stream name: ${problem}. Stream names are 1-128 characters of A-Z a-z 0-9 . _ - /, not starting with / or a dot, with no empty or .. segment, not ending in /speak, /cancel, /listen or /publish.`;
}

export const streamNameSchema = z.string().refine(isValidStreamName, 'invalid stream name');

/** The WebSocket subprotocol the relay selects; browsers offer it first, before a token entry. */
export const RELAY_SUBPROTOCOL = 'tts-relay';
/** Browsers cannot set headers on a WebSocket: they may offer `tts-relay.token.<token>` as a second subprotocol. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'tts-relay.token.';

const errorCodeSchema = z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]);
export const errorInfoSchema = z.object({ code: errorCodeSchema, message: z.string() }) satisfies z.ZodType<ErrorInfo>;
export type { ErrorInfo };

export const wireFormatSchema = z.object({
  encoding: encodingSchema,
  sample_rate: sampleRateSchema,
  channels: z.literal(1),
});
export type WireFormat = z.infer<typeof wireFormatSchema>;

export const END_REASONS = ['done', 'cancelled', 'error'] as const;
export type EndReason = (typeof END_REASONS)[number];

export const wordTimestampSchema = z.object({
  word: z.string(),
  /** Seconds from the first sample of the utterance. */
  start: z.number().nonnegative(),
  end: z.number().nonnegative(),
});
export type WordTimestamp = z.infer<typeof wordTimestampSchema>;

/**
 * The relay clock: milliseconds since the Unix epoch as the relay reads it (monotonic, sub-millisecond;
 * instances of one cluster agree as far as their hosts' wall clocks do). Presentation times (`at`) and the
 * clock pong's readings are on it; a listener estimates it from `clock_ping`/`clock_pong` and never trusts
 * its own wall clock to match.
 */
export const relayClockSchema = z.object({
  /** Added to every stream's playout timeline: a sample is presented `sync_delay_ms` after its place on it. */
  sync_delay_ms: z.number().nonnegative(),
  /** The relay clock when hello was sent. */
  time: z.number(),
});
export type RelayClockInfo = z.infer<typeof relayClockSchema>;

export const helloSchema = z.object({
  type: z.literal('hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  stream: z.string(),
  listener_id: z.string(),
  format: wireFormatSchema,
  /** The relay sends a heartbeat at least this often; silence for twice as long means the link is dead. */
  heartbeat_ms: z.number().int().positive(),
  /** Present when the relay keeps presentation times and answers `clock_ping` (absent from older relays). */
  clock: relayClockSchema.optional(),
});

export const utteranceStartSchema = z.object({
  type: z.literal('utterance_start'),
  utterance: z.number().int().nonnegative(),
  utterance_id: z.string(),
});

export const utteranceEndSchema = z.object({
  type: z.literal('utterance_end'),
  utterance: z.number().int().nonnegative(),
  utterance_id: z.string(),
  reason: z.enum(END_REASONS),
  /** Samples of this utterance sent to this listener, in the listener's format. */
  samples: z.number().int().nonnegative(),
  error: errorInfoSchema.optional(),
  /**
   * Relay clock at which the utterance's audio ends for every listener in step: after the last sample for
   * `done`; for `cancelled` and `error`, the cut: audio presented at or after it is not to be played.
   */
  at: z.number().optional(),
});

/**
 * Only to listeners that asked with `?timing=true`, before the audio it places: sample `sample` of the
 * utterance (in the listener's format) is presented at relay clock `at` (ms), and the samples after it follow
 * at the sample rate until the next `timing` of the utterance or its end. A later `at` than that continuation
 * is an explicit gap (a slow provider, an underrun): silence, never a drift. Every utterance's first audio has one.
 */
export const timingSchema = z.object({
  type: z.literal('timing'),
  utterance: z.number().int().nonnegative(),
  sample: z.number().int().nonnegative(),
  at: z.number(),
});

export const timestampsSchema = z.object({
  type: z.literal('timestamps'),
  utterance: z.number().int().nonnegative(),
  utterance_id: z.string(),
  words: z.array(wordTimestampSchema),
});

export const phonemeTimestampSchema = z.object({
  phoneme: z.string(),
  start: z.number().nonnegative(),
  end: z.number().nonnegative(),
});

export type PhonemeTimestamp = z.infer<typeof phonemeTimestampSchema>;

/** Sent only for utterances spoken with `phoneme_timestamps=true`, where the provider has them. */
export const phonemeTimestampsSchema = z.object({
  type: z.literal('phoneme_timestamps'),
  utterance: z.number().int().nonnegative(),
  utterance_id: z.string(),
  phonemes: z.array(phonemeTimestampSchema),
});

export const errorMessageSchema = z.object({ type: z.literal('error'), error: errorInfoSchema });

export const heartbeatSchema = z.object({ type: z.literal('heartbeat'), time: z.number() });

/** The answer to a `clock_ping`: `t1` the relay clock when the ping arrived, `t2` when the pong left; `t0` echoed. */
export const clockPongSchema = z.object({
  type: z.literal('clock_pong'),
  id: z.number().int().nonnegative(),
  t0: z.number(),
  t1: z.number(),
  t2: z.number(),
});

export const listenerMessageSchema = z.discriminatedUnion('type', [
  helloSchema,
  utteranceStartSchema,
  utteranceEndSchema,
  timestampsSchema,
  phonemeTimestampsSchema,
  errorMessageSchema,
  heartbeatSchema,
  timingSchema,
  clockPongSchema,
]);
export type ListenerMessage = z.infer<typeof listenerMessageSchema>;
export type Hello = z.infer<typeof helloSchema>;
export type UtteranceStart = z.infer<typeof utteranceStartSchema>;
export type UtteranceEnd = z.infer<typeof utteranceEndSchema>;
export type TimestampsMessage = z.infer<typeof timestampsSchema>;
export type TimingMessage = z.infer<typeof timingSchema>;
export type ClockPong = z.infer<typeof clockPongSchema>;

/**
 * Listener → relay: asks for the relay clock. `t0` is the listener's own clock when sent (any unit-ms clock;
 * echoed untouched). Send only to a relay whose hello has `clock`; an older relay closes on any message.
 */
export const clockPingSchema = z.object({
  type: z.literal('clock_ping'),
  id: z.number().int().nonnegative().max(2 ** 32),
  t0: z.number().finite(),
});
export type ClockPing = z.infer<typeof clockPingSchema>;

/** The longest a listener should wait between two `played` reports while it plays; the relay caps the rate. */
export const PLAYED_REPORT_INTERVAL_MS = 250;

/**
 * Listener → relay: how far into an utterance this listener has played. Sent at most every
 * PLAYED_REPORT_INTERVAL_MS while playing, and once with `final: true` when the utterance's end or a cut is
 * played (0 samples if none of it was). A listener that never sends one is counted as unconfirmed.
 */
export const playedSchema = z.strictObject({
  type: z.literal('played'),
  utterance: z.number().int().nonnegative().max(0xffffffff),
  /** Samples of the utterance played so far, in this listener's format, counted from its first sample. */
  samples: z.number().int().nonnegative().max(0xffffffff),
  /** The last report for this utterance: its end, or the cut, has been played. */
  final: z.boolean().optional(),
});
export type Played = z.infer<typeof playedSchema>;

/** Everything a listener may send on its socket; anything else closes it with `invalid_message`. */
export const listenerClientMessageSchema = z.discriminatedUnion('type', [clockPingSchema, playedSchema]);
export type ListenerClientMessage = z.infer<typeof listenerClientMessageSchema>;

/** Longest text frame a listener may send; longer ones close the socket. */
export const MAX_LISTENER_MESSAGE_CHARS = 1024;

/** Parses and validates a text frame from a listener; null for anything invalid or too long. */
export function parseListenerClientMessage(text: string): ListenerClientMessage | null {
  return text.length > MAX_LISTENER_MESSAGE_CHARS ? null : parseWith(listenerClientMessageSchema, text);
}

/**
 * What an utterance's listeners heard: the words of its text whose audio at least one listener reported
 * playing to the end (a word cut mid-way is not heard). Carried by `speak?wait=true` answers, publisher
 * `utterance_end` messages and the Cartesia-compatible ingress's `done`.
 */
export const heardSchema = z.object({
  /** The utterance's text up to and including the last word heard (its own spelling and spacing, trimmed). */
  text: z.string(),
  /** Whitespace-separated words in `text`. */
  words: z.number().int().nonnegative(),
  /** Furthest position any listener reported playing, in seconds from the utterance's first sample. */
  seconds: z.number().nonnegative(),
  /** Listeners that reported playing this utterance. */
  listeners: z.number().int().nonnegative(),
  /** Listeners connected while it played that reported nothing (old clients, raw sockets): never guessed. */
  unconfirmed: z.number().int().nonnegative(),
});
export type Heard = z.infer<typeof heardSchema>;


/**
 * Binary audio frame: a 12-byte little-endian header, then raw samples in the listener's format.
 *
 *   offset 0  u8   protocol version (1)
 *   offset 1  u8   frame kind (1 = audio)
 *   offset 2  u16  reserved, zero
 *   offset 4  u32  utterance number (as in utterance_start)
 *   offset 8  u32  index of the first sample of this frame within the utterance
 *   offset 12 ...  samples
 *
 * 12 bytes keep the payload 4-byte aligned, so a Float32Array can view it without a copy.
 */
export const AUDIO_HEADER_BYTES = 12;
export const FRAME_KIND_AUDIO = 1;

export interface AudioFrame {
  utterance: number;
  sampleOffset: number;
  payload: Uint8Array;
}

/** Frames `payload`, into `frame` when given (exactly the frame's length, from a sender that reuses it), else a new array. */
export function encodeAudioFrame(utterance: number, sampleOffset: number, payload: Uint8Array, frame: Uint8Array = new Uint8Array(AUDIO_HEADER_BYTES + payload.byteLength)): Uint8Array {
  frame[0] = PROTOCOL_VERSION;
  frame[1] = FRAME_KIND_AUDIO;
  frame[2] = 0;
  frame[3] = 0;
  writeUint32LE(frame, 4, utterance);
  writeUint32LE(frame, 8, sampleOffset);
  frame.set(payload, AUDIO_HEADER_BYTES);
  return frame;
}

/** Byte by byte rather than through a DataView, which was an object allocated per frame (a sampled Bun profile's). */
function writeUint32LE(bytes: Uint8Array, at: number, value: number): void {
  const v = value >>> 0;
  bytes[at] = v & 0xff;
  bytes[at + 1] = (v >>> 8) & 0xff;
  bytes[at + 2] = (v >>> 16) & 0xff;
  bytes[at + 3] = v >>> 24;
}

/** Parses a binary frame; returns null for anything that is not a version-1 audio frame. */
export function decodeAudioFrame(data: Uint8Array): AudioFrame | null {
  if (data.byteLength < AUDIO_HEADER_BYTES) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(0) !== PROTOCOL_VERSION || view.getUint8(1) !== FRAME_KIND_AUDIO) return null;
  return {
    utterance: view.getUint32(4, true),
    sampleOffset: view.getUint32(8, true),
    payload: data.subarray(AUDIO_HEADER_BYTES),
  };
}

/** Parses and validates a text frame from the relay. */
export function parseListenerMessage(text: string): ListenerMessage | null {
  return parseWith(listenerMessageSchema, text);
}

function parseWith<T>(schema: z.ZodType<T>, text: string): T | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
