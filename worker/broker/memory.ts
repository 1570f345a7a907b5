/** The single-process broker: synchronous delivery to the subscribers of a stream. */
import type { Broker, BrokerEvent, BrokerHandler, ReplayedUtterance } from './broker.ts';
import { UtteranceBuffer } from './utterance-buffer.ts';

export interface MemoryBrokerOptions {
  /** Bytes of the current utterance kept per stream for `?from=utterance` (0 keeps none). */
  replayBytes?: number;
  onHandlerError?: (error: unknown) => void;
}

export class MemoryBroker implements Broker {
  readonly name = 'memory';
  /** Each stream's handlers, an array replaced (never changed) on (un)subscribe: a publish loops over it allocating nothing. */
  private readonly subscribers = new Map<string, readonly BrokerHandler[]>();
  private readonly current = new Map<string, UtteranceBuffer>();
  private readonly replayBytes: number;
  private readonly onHandlerError: (error: unknown) => void;

  constructor(options: MemoryBrokerOptions = {}) {
    this.replayBytes = options.replayBytes ?? 0;
    this.onHandlerError = options.onHandlerError ?? (() => {});
  }

  publish(stream: string, event: BrokerEvent): void {
    this.remember(stream, event);
    const handlers = this.subscribers.get(stream);
    if (!handlers) return;
    for (let i = 0; i < handlers.length; i++) {
      try {
        handlers[i]!(event);
      } catch (error) {
        this.onHandlerError(error);
      }
    }
  }

  subscribe(stream: string, handler: BrokerHandler): () => void {
    const handlers = this.subscribers.get(stream) ?? [];
    if (!handlers.includes(handler)) this.subscribers.set(stream, [...handlers, handler]);
    return () => {
      const left = (this.subscribers.get(stream) ?? []).filter((subscribed) => subscribed !== handler);
      if (left.length > 0) this.subscribers.set(stream, left);
      else this.subscribers.delete(stream);
    };
  }

  replay(stream: string, deliver: (utterance: ReplayedUtterance | null) => void): void {
    deliver(this.current.get(stream)?.snapshot() ?? null);
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    this.current.clear();
  }

  /** Keeps each stream's current utterance, and only while it lasts. */
  private remember(stream: string, event: BrokerEvent): void {
    let buffer = this.current.get(stream);
    if (!buffer) {
      if (event.type !== 'utterance_start') return;
      this.current.set(stream, (buffer = new UtteranceBuffer(this.replayBytes)));
    }
    buffer.append(event);
    if (event.type === 'utterance_end' && buffer.utterance === null) this.current.delete(stream);
  }
}
