/** Fan-out transport between the instance that synthesizes a stream and every instance with listeners. */
import type { EndReason, ErrorInfo, PhonemeTimestamp, WordTimestamp } from '../../shared/protocol.ts';

/** What a stream publishes. Audio is in the stream's source format; listeners' formats are made on their instance. */
export type BrokerEvent =
  | { type: 'utterance_start'; utterance: number; utterance_id: string }
  | { type: 'audio'; utterance: number; data: Uint8Array }
  /**
   * The audio after this event, `position` seconds into the utterance, is presented at relay clock `at`
   * (shared/protocol.ts `timing`); published by the playout before the audio it places.
   */
  | { type: 'timing'; utterance: number; position: number; at: number }
  | { type: 'timestamps'; utterance: number; utterance_id: string; words: WordTimestamp[] }
  | { type: 'phoneme_timestamps'; utterance: number; utterance_id: string; phonemes: PhonemeTimestamp[] }
  /** The provider finished a flush of this utterance; listeners ignore it, the Cartesia ingress answers `flush_done`. */
  | { type: 'flush_done'; utterance: number; utterance_id: string; flush_id: number }
  /** `at`: the relay clock at which the audio ends for listeners in step (for a cancel, the cut). */
  | { type: 'utterance_end'; utterance: number; utterance_id: string; reason: EndReason; error?: ErrorInfo; at?: number };

export type BrokerHandler = (event: BrokerEvent) => void;

/** The current utterance as a late listener replays it: its start, then what was published since, oldest first. */
export interface ReplayedUtterance {
  start: Extract<BrokerEvent, { type: 'utterance_start' }>;
  events: BrokerEvent[];
  /** Source-format audio bytes dropped from the head to stay within the replay bound (0: complete from the first sample). */
  skippedBytes: number;
}

export interface Broker {
  readonly name: 'memory' | 'redis';
  publish(stream: string, event: BrokerEvent): void;
  /** Returns the function that unsubscribes. */
  subscribe(stream: string, handler: BrokerHandler): () => void;
  /**
   * Calls `deliver` once with the stream's current utterance so far (null between utterances), at a moment
   * consistent with `subscribe`: every later event reaches the stream's handlers after `deliver` returns.
   * Call it while subscribed to the stream.
   */
  replay(stream: string, deliver: (utterance: ReplayedUtterance | null) => void): void;
  /** False while the broker cannot reach its peers (Redis down): local listeners still get local streams. */
  healthy(): boolean;
  close(): Promise<void>;
}
