/**
 * Where speak, cancel and status go: straight to this process's streams, or, across instances, to the
 * instance that owns a stream's queue. Ingress routes use this, never a Stream directly, so a speak request
 * landing on any instance joins the one FIFO of its stream.
 */
import type { RelayError } from '../../shared/errors.ts';
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

export interface StreamDirectory {
  /**
   * Adds an utterance at the back of the stream's queue (`queue_full` when it is full); with `interrupt`
   * (barge-in) it first cancels what is playing and queued.
   */
  enqueue(stream: string, options: UtteranceOptions, placement?: { interrupt?: boolean }): UtteranceHandle | Promise<UtteranceHandle>;
  /** Stops the current utterance, and with `all` the queue too; returns the ids stopped. */
  cancel(stream: string, all: boolean): string[] | Promise<string[]>;
  /** The stream's queue, or null when nothing is known of the stream. */
  status(stream: string): QueueStatus | null | Promise<QueueStatus | null>;
  /** Stops taking work and hands owned streams over; in flight local utterances are the relay's to end. */
  close(): Promise<void>;
}
