/** One stream's listeners on this instance: a format channel per format, and those still catching up. */
import type { FormatChannel } from './format-channel.ts';
import type { Listener } from './listener.ts';

export class StreamListeners {
  constructor(
    readonly name: string,
    /** Which of the hub's heartbeat slices this stream's listeners are beaten with. */
    readonly heartbeatSlice = 0,
  ) {}

  private readonly byFormat = new Map<string, FormatChannel>();
  /**
   * The format channels as an array, replaced (never changed) when one opens or closes: every event goes through it
   * with a plain loop, which allocates nothing (a Map iterator per event kept Bun's collector running), and a channel
   * that closes during a delivery leaves the array that delivery holds whole.
   */
  channels: readonly FormatChannel[] = [];
  /** Listeners that asked for `?from=utterance`, waiting for the broker's replay. */
  readonly pending = new Set<Listener>();
  /** Listeners replaying the current utterance through a converter of their own, until it ends. */
  readonly catchUps = new Map<Listener, FormatChannel>();
  unsubscribe: () => void = () => {};

  channel(formatKey: string): FormatChannel | undefined {
    return this.byFormat.get(formatKey);
  }

  openChannel(formatKey: string, channel: FormatChannel): void {
    this.byFormat.set(formatKey, channel);
    this.channels = [...this.channels, channel];
  }

  closeChannel(formatKey: string): void {
    const channel = this.byFormat.get(formatKey);
    if (!channel || !this.byFormat.delete(formatKey)) return;
    this.channels = this.channels.filter((open) => open !== channel);
  }

  get size(): number {
    let total = this.pending.size + this.catchUps.size;
    for (const channel of this.channels) total += channel.listeners.size;
    return total;
  }

  /** Every listener of the stream, whatever it is waiting for. */
  *all(): Iterable<Listener> {
    for (const channel of this.channels) yield* channel.listeners;
    yield* this.pending;
    yield* this.catchUps.keys();
  }

  /** Visits every listener of the stream as `all` does, without allocating when none is catching up: the sweeps' way. */
  forEachListener(visit: (listener: Listener) => void): void {
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) channels[i]!.listeners.forEach(visit);
    if (this.pending.size > 0) this.pending.forEach(visit);
    if (this.catchUps.size > 0) for (const listener of [...this.catchUps.keys()]) visit(listener);
  }
}
