/**
 * An utterance's start, told to the broker once this turn of the event loop has done its I/O. Listeners hear of
 * an utterance long before its first audio either way; sent at once, the start's socket writes to every listener
 * came before the provider's request for that audio, whose chain of promises ends later in the same turn.
 * Whatever the stream publishes next takes a pending start out first, so the start is always published first.
 */
import { afterIO } from '../../shared/timers.ts';
import type { BrokerEvent } from '../broker/broker.ts';

type Start = Extract<BrokerEvent, { type: 'utterance_start' }>;

export class DeferredStart {
  private pending: Start | null = null;

  constructor(private readonly publish: (event: Start) => void) {}

  /** Publishes `start` after this turn's I/O, unless something else is published for the stream before then. */
  announce(start: Start): void {
    this.flush();
    this.pending = start;
    afterIO(() => this.flush());
  }

  /** Publishes the pending start now, if there is one. */
  flush(): void {
    const start = this.pending;
    if (!start) return;
    this.pending = null;
    this.publish(start);
  }
}
