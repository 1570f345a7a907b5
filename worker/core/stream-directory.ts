/**
 * The one way to reach a stream: open it, speak to it, cancel in it and read its queue, whether its queue is in
 * this process or, across instances, with the instance that owns it. Ingress routes use this, never a Stream
 * directly, so a speak request landing on any instance joins the one FIFO of its stream.
 */
import type { RelayError } from '../../shared/errors.ts';
import type { TTSContext } from '../providers/provider.ts';
import type { UtteranceOptions, UtteranceResult } from './utterance.ts';

/** One request's utterance as its ingress sees it: text goes in, the outcome comes back. */
export interface UtteranceHandle {
  readonly id: string;
  readonly number: number;
  readonly ended: boolean;
  readonly result: Promise<UtteranceResult>;
  /** Adds text; throws `text_too_long` past the character limit. */
  write(text: string): void;
  flush(): void;
  end(): void;
  /** The input broke (bad body, client gone): the utterance ends with this error. */
  fail(error: RelayError): void;
}

export interface QueueStatus {
  current: { utterance_id: string; utterance: number; started_at: string } | null;
  queue: Array<{ utterance_id: string; utterance: number }>;
}

/** Where an utterance goes in its stream's queue. */
export interface Placement {
  /** Barge-in: cancel what is playing and queued first, so this one is next. */
  interrupt?: boolean;
}

export interface StreamDirectory {
  /**
   * Makes the stream known on this instance before a listener or a publisher joins it, so its status answers;
   * refused with `shutting_down` once shutdown began and `too_many_streams` past the stream limit.
   */
  open(stream: string): Promise<void>;
  /** Adds an utterance at the back of the stream's queue (`queue_full` when it is full); see `Placement`. */
  enqueue(stream: string, options: UtteranceOptions, placement?: Placement): Promise<UtteranceHandle>;
  /**
   * Present where the stream's queue is in this process: queues an utterance whose audio `source` already
   * synthesizes (a Cartesia-compatible context, served on the provider's timing); the stream plays it in its turn.
   * Across instances audio cannot follow the queue, so the cluster's directory has no such method.
   */
  enqueueSynthesized?(stream: string, options: UtteranceOptions, source: TTSContext): Promise<UtteranceHandle>;
  /** Stops the current utterance, and with `all` the queue too; returns the ids stopped. */
  cancel(stream: string, all: boolean): Promise<string[]>;
  /**
   * Cancels one utterance, speaking or still queued, and leaves the others; it ends with reason `cancelled`.
   * False when no such utterance is speaking or queued (it had already ended).
   */
  cancelUtterance(stream: string, id: string): Promise<boolean>;
  /** Names of the streams this instance knows: spoken, queued or listened to here, and not yet forgotten as idle. */
  names(): Promise<string[]>;
  /** The stream's queue, or null when nothing is known of the stream. */
  status(stream: string): Promise<QueueStatus | null>;
  /** Stops taking work and hands owned streams over; in flight local utterances are the relay's to end. */
  close(): Promise<void>;
}
