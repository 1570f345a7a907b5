/**
 * A TTSContext whose events come from synthesis already under way elsewhere — a Cartesia-compatible client's
 * context, synthesized at the provider's speed for that client — held until its stream plays it in its turn.
 * What waits is bounded: past `maxSeconds` of held audio, `offer` resolves only as the stream takes audio,
 * so the producer (and the client it serves) slows to the stream's pace instead of filling memory.
 */
import { AsyncQueue } from '../../shared/async-queue.ts';
import type { ProviderEvent, TTSContext } from '../providers/provider.ts';

export interface SynthesizedContextOptions {
  /** Seconds of audio held before `offer` waits. */
  maxSeconds: number;
  /** Seconds of one audio event's bytes. */
  secondsOf: (bytes: number) => number;
  /** Held bytes changed by `delta` (for the held-audio gauge). */
  onHeld?: (delta: number) => void;
  /** The stream cancelled it (a cancel, barge-in, shutdown): stop producing for it. */
  onCancel?: () => void;
}

export class SynthesizedContext implements TTSContext {
  readonly id = crypto.randomUUID();
  private readonly queue = new AsyncQueue<ProviderEvent>();
  private heldSeconds = 0;
  private heldBytes = 0;
  private waiters: Array<() => void> = [];
  private stopped = false;

  constructor(private readonly options: SynthesizedContextOptions) {}

  /** False once the stream cancelled it or its last event was offered. */
  get open(): boolean {
    return !this.stopped && !this.queue.isClosed;
  }

  /** Hands one event to the stream; resolves when there is room for more. `done` and `error` end it. */
  offer(event: ProviderEvent): Promise<void> {
    if (!this.open) return Promise.resolve();
    if (event.type === 'audio') this.hold(event.data.byteLength);
    this.queue.push(event);
    if (event.type === 'done' || event.type === 'error') this.queue.close();
    if (this.heldSeconds <= this.options.maxSeconds) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // The text went to the context that synthesizes; the stream's feed has nothing to add.
  push(): void {}
  flush(): void {}
  end(): void {}

  cancel(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue.clear();
    this.hold(-this.heldBytes);
    this.wake();
    this.options.onCancel?.();
  }

  get events(): AsyncIterable<ProviderEvent> {
    return this.drain();
  }

  private async *drain(): AsyncGenerator<ProviderEvent> {
    for await (const event of this.queue) {
      if (event.type === 'audio') {
        this.hold(-event.data.byteLength);
        this.wake();
      }
      yield event;
    }
  }

  private hold(bytes: number): void {
    if (bytes === 0) return;
    this.heldBytes += bytes;
    this.heldSeconds = this.options.secondsOf(this.heldBytes);
    this.options.onHeld?.(bytes);
  }

  private wake(): void {
    if (this.heldSeconds > this.options.maxSeconds && !this.stopped) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
