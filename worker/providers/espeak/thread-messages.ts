/** The messages between the relay and its espeak-ng thread (worker/providers/espeak/thread.ts). */
import type { WordTimestamp } from '../../../shared/protocol.ts';
import type { EspeakVoice } from './engine.ts';

/** One piece of text to speak; the thread answers `chunk`s, then `spoken` or `error`, before the next request. */
export interface SpeakRequest {
  type: 'speak';
  id: number;
  text: string;
  voice: string;
  /** Shared with the relay: once it holds this request's id, the thread stops speaking it at the engine's next chunk. */
  stop?: Int32Array;
}

export type ThreadReply =
  /** The engine is loaded, with these voices: requests are answered from now on. */
  | { type: 'ready'; voices: EspeakVoice[] }
  /** The engine did not load; the thread answers nothing else. */
  | { type: 'failed'; message: string }
  /** Samples at ESPEAK_SAMPLE_RATE, their buffer transferred. */
  /** Samples at ESPEAK_SAMPLE_RATE, their buffer transferred, and the words whose times they settled. */
  | { type: 'chunk'; id: number; samples: Float32Array; words: WordTimestamp[] }
  /** Word times in seconds from the request's first sample. */
  | { type: 'spoken'; id: number; sampleCount: number; words: WordTimestamp[] }
  | { type: 'error'; id: number; message: string };

const REPLY_TYPES = new Set<string>(['ready', 'failed', 'chunk', 'spoken', 'error']);

export function isThreadReply(message: unknown): message is ThreadReply {
  return typeof message === 'object' && message !== null && REPLY_TYPES.has(String((message as { type?: unknown }).type));
}

export function isSpeakRequest(message: unknown): message is SpeakRequest {
  const m = message as Partial<SpeakRequest> | null;
  return typeof m === 'object' && m !== null && m.type === 'speak' && typeof m.id === 'number' && typeof m.text === 'string' && typeof m.voice === 'string' && (m.stop === undefined || m.stop instanceof Int32Array);
}
