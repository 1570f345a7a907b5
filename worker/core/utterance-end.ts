/** How a spoken utterance's end is told: the broker event its listeners get, and the log line. */
import { errorInfo, type RelayError } from '../../shared/errors.ts';
import type { EndReason } from '../../shared/protocol.ts';
import type { BrokerEvent } from '../broker/broker.ts';
import type { Utterance } from './utterance.ts';

/** `at`: where the end falls on the playout timeline. */
export function utteranceEndEvent(utterance: Utterance, reason: EndReason, at: number, error?: RelayError): BrokerEvent {
  return {
    type: 'utterance_end',
    utterance: utterance.number,
    utterance_id: utterance.id,
    reason,
    at,
    ...(error ? { error: errorInfo(error) } : {}),
  };
}

export function utteranceEndLog(stream: string, utterance: Utterance, reason: EndReason, error?: RelayError): Record<string, unknown> {
  return {
    stream,
    utterance_id: utterance.id,
    reason,
    ...(error ? { code: error.code } : {}),
    characters: utterance.characters,
    audio_seconds: Math.round(utterance.audioSeconds * 1000) / 1000,
  };
}
