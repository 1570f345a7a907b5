/** The frames the emulator sends: its server messages, version-dependent error frames, timestamps and injected garbage. */
import { closeContext, SOCKET_OPEN, type Connection, type EmulatedContext, type EmulatorState } from './state.ts';

// Version from which Cartesia answers errors as structured objects (title, message, error_code).
const STRUCTURED_ERRORS_VERSION = '2026-03-01';
// Frames no client should choke on: not JSON, unknown types, chunks and timestamps missing their payload.
const garbageFrames = (contextId: string): string[] => [
  'this is not json {',
  JSON.stringify({ type: 'mystery', context_id: contextId, note: 'a message type the client does not know' }),
  JSON.stringify({ type: 'chunk', context_id: contextId }),
  JSON.stringify({ type: 'chunk', context_id: contextId, data: 12345 }),
  JSON.stringify({ type: 'timestamps', context_id: contextId, word_timestamps: 'garbled' }),
  JSON.stringify({ type: 'done' }),
  'null',
  '42',
  '[1,2,3]',
];

export interface EmulatorError {
  status: number;
  errorCode: string | null;
  title: string;
  message: string;
}

export interface TimedWord {
  word: string;
  start: number;
  end: number;
}

/** Sends a frame unless the socket is stalled or no longer open, counting it by type; `written` once it has left for the kernel. */
export function send(state: EmulatorState, connection: Connection, frame: Record<string, unknown>, written?: () => void): void {
  if (connection.stalled || connection.socket.readyState !== SOCKET_OPEN) return;
  const type = String(frame.type);
  state.stats.sent[type] = (state.stats.sent[type] ?? 0) + 1;
  if (type === 'error') state.stats.errors.push(frame);
  connection.socket.send(JSON.stringify(frame), written);
}

/** An error frame: structured (title, message, error_code) from version 2026-03-01, one `error` string before it. */
export function sendError(state: EmulatorState, connection: Connection, contextId: string | null, error: EmulatorError): void {
  const { status, errorCode, title, message } = error;
  const requestId = `${crypto.randomUUID()}${contextId ? `:${contextId}` : ''}:${++state.ids.request}`;
  const frame: Record<string, unknown> =
    connection.version >= STRUCTURED_ERRORS_VERSION
      ? { type: 'error', done: true, status_code: status, error_code: errorCode, title, message, request_id: requestId }
      : { type: 'error', done: true, status_code: status, error: `${title}: ${message}` };
  if (contextId) frame.context_id = contextId;
  send(state, connection, frame);
}

/** Word and phoneme timestamps for `words`, as the context asked for them. */
export function sendTimestamps(state: EmulatorState, connection: Connection, context: EmulatedContext, words: TimedWord[]): void {
  const round = (s: number) => Math.round(s * 1e4) / 1e4;
  const frame = { done: false, status_code: 206, flush_id: context.flushId, context_id: context.id };
  if (context.words && state.settings.wordTimestamps) {
    const word_timestamps = { words: words.map((w) => w.word), start: words.map((w) => round(w.start)), end: words.map((w) => round(w.end)) };
    send(state, connection, { type: 'timestamps', ...frame, word_timestamps });
  }
  if (context.phonemes) {
    const phonemes = lettersAsPhonemes(words);
    const phoneme_timestamps = { phonemes: phonemes.map((p) => p.p), start: phonemes.map((p) => round(p.start)), end: phonemes.map((p) => round(p.end)) };
    send(state, connection, { type: 'phoneme_timestamps', ...frame, phoneme_timestamps });
  }
}

/** espeak reports words only: each letter stands in for a phoneme, spread evenly over its word. */
function lettersAsPhonemes(words: TimedWord[]): Array<{ p: string; start: number; end: number }> {
  const phonemes: Array<{ p: string; start: number; end: number }> = [];
  for (const w of words) {
    const letters = Array.from(w.word.replace(/[^\p{L}\p{N}]/gu, ''));
    const step = letters.length > 0 ? (w.end - w.start) / letters.length : 0;
    letters.forEach((p, i) => phonemes.push({ p: p.toLowerCase(), start: w.start + i * step, end: w.start + (i + 1) * step }));
  }
  return phonemes;
}

/** The garbage fault: malformed text frames and a binary one. */
export function sendGarbage(state: EmulatorState, connection: Connection, contextId: string): void {
  if (connection.stalled || connection.socket.readyState !== SOCKET_OPEN) return;
  state.stats.sent.garbage = (state.stats.sent.garbage ?? 0) + 1;
  for (const frame of garbageFrames(contextId)) connection.socket.send(frame);
  connection.socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
}

/** Ends a context with an error frame, as Cartesia does for a request it cannot serve. */
export function failContext(state: EmulatorState, connection: Connection, context: EmulatedContext, error: EmulatorError): void {
  context.finished = true;
  closeContext(connection, context);
  sendError(state, connection, context.id, error);
}
