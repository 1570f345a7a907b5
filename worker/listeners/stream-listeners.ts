/** One stream's listeners on this instance: a format channel per format, and those still catching up. */
import type { FormatChannel } from './format-channel.ts';
import type { Listener } from './listener.ts';

export class StreamListeners {
  constructor(
    readonly name: string,
    /** Which of the hub's heartbeat slices this stream's listeners are beaten with. */
    readonly heartbeatSlice = 0,
  ) {}

  readonly channels = new Map<string, FormatChannel>();
  /** Listeners that asked for `?from=utterance`, waiting for the broker's replay. */
  readonly pending = new Set<Listener>();
  /** Listeners replaying the current utterance through a converter of their own, until it ends. */
  readonly catchUps = new Map<Listener, FormatChannel>();
  unsubscribe: () => void = () => {};

  get size(): number {
    let total = this.pending.size + this.catchUps.size;
    for (const channel of this.channels.values()) total += channel.listeners.size;
    return total;
  }

  /** Every listener of the stream, whatever it is waiting for. */
  *all(): Iterable<Listener> {
    for (const channel of this.channels.values()) yield* channel.listeners;
    yield* this.pending;
    yield* this.catchUps.keys();
  }
}
