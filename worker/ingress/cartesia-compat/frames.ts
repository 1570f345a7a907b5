/** The frames a Cartesia-compatible client receives, built as Cartesia's API reference shapes them (errors: errors.ts). */
import { CARTESIA_PARTIAL, type CartesiaServerMessage } from '../../../shared/cartesia-messages.ts';
import { encodeBase64 } from '../../../shared/base64.ts';
import type { PhonemeTimestamp, WordTimestamp } from '../../../shared/protocol.ts';

export function chunkFrame(contextId: string, data: Uint8Array, stepTime: number, flushId: number): CartesiaServerMessage {
  return { type: 'chunk', context_id: contextId, data: encodeBase64(data), done: false, status_code: CARTESIA_PARTIAL, step_time: stepTime, flush_id: flushId };
}

export function wordsFrame(contextId: string, words: WordTimestamp[], flushId: number): CartesiaServerMessage {
  return {
    type: 'timestamps',
    context_id: contextId,
    done: false,
    status_code: CARTESIA_PARTIAL,
    flush_id: flushId,
    word_timestamps: { words: words.map((w) => w.word), start: words.map((w) => w.start), end: words.map((w) => w.end) },
  };
}

export function phonemesFrame(contextId: string, phonemes: PhonemeTimestamp[], flushId: number): CartesiaServerMessage {
  return {
    type: 'phoneme_timestamps',
    context_id: contextId,
    done: false,
    status_code: CARTESIA_PARTIAL,
    flush_id: flushId,
    phoneme_timestamps: { phonemes: phonemes.map((p) => p.phoneme), start: phonemes.map((p) => p.start), end: phonemes.map((p) => p.end) },
  };
}

export function flushDoneFrame(contextId: string, flushId: number): CartesiaServerMessage {
  return { type: 'flush_done', context_id: contextId, flush_id: flushId, flush_done: true, done: false, status_code: CARTESIA_PARTIAL };
}

export function doneFrame(contextId: string): CartesiaServerMessage {
  return { type: 'done', context_id: contextId, done: true, status_code: CARTESIA_PARTIAL };
}
