/**
 * Listeners of every stream on this instance. Audio from the broker is converted and framed once per
 * distinct format, and the same bytes go to every listener of that format.
 */
import { type AudioFormat, bytesPerSecond, formatKey } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import { unrefTimer } from '../../shared/timers.ts';
import { type Hello, type ListenerMessage, PROTOCOL_VERSION } from '../../shared/protocol.ts';
import type { Broker, BrokerEvent, ReplayedUtterance } from '../broker/broker.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { ChannelSockets } from './channel-sockets.ts';
import { BUDGET_CHECK_MS, BufferBudget } from './buffer-budget.ts';
import { FormatChannel, type SentSamples } from './format-channel.ts';
import { HeartbeatSlices } from './heartbeat-slices.ts';
import type { Listener, ListenerRecord, ListenerRegistry, ListenerSocket, ListenOptions } from './listener.ts';
import { StreamListeners } from './stream-listeners.ts';

export interface ListenerHubOptions {
  broker: Broker;
  sourceFormat: AudioFormat;
  logger: Logger;
  heartbeatMs: number;
  /** A listener is dropped when its socket holds more than this many seconds of its audio unsent. */
  maxBufferedSeconds: number;
  /** What every listener of this instance may hold unsent, together (buffer-budget.ts); the fullest go past it. */
  bufferBudgetBytes: number;
  newId: () => string;
  /** The relay clock (listener protocol) now, and the sync delay every stream adds to its timeline. */
  relayClock: () => number;
  syncDelayMs: number;
  onSlowListener?: (listener: Listener) => void;
  metrics?: Metrics;
}

// A listener is dropped only after staying over its allowance this long. Deno counts bytes handed to the
// socket in the current tick as buffered, so a burst of frames alone looks like a slow reader there.
const SLOW_LISTENER_GRACE_MS = 500;
/**
 * A grouped channel's sockets are checked for a reader past its allowance every tenth of the allowance, at most once a
 * second: a reader over it is still seen within a tenth of it, and with the default 30 s allowance each socket is read
 * once a second, not ten times (a per-listener cost that showed in a Bun profile at a hundred listeners).
 */
const MAX_SLOW_SWEEP_MS = 1000;

export class ListenerHub implements ListenerRegistry {
  private readonly streams = new Map<string, StreamListeners>();
  /** When each listener was first seen over its allowance, while it stays over (usually empty: checked by size first). */
  private readonly overSince = new Map<Listener, number>();
  private readonly heartbeats: HeartbeatSlices;
  private readonly budgetSweep: ReturnType<typeof setInterval>;
  private readonly budget: BufferBudget;
  private readonly slowSweepMs: number;

  constructor(private readonly options: ListenerHubOptions) {
    this.slowSweepMs = Math.min(MAX_SLOW_SWEEP_MS, options.maxBufferedSeconds * 100);
    this.budget = new BufferBudget(options.bufferBudgetBytes);
    this.heartbeats = new HeartbeatSlices(options.heartbeatMs, (slice) => this.sendHeartbeats(slice));
    this.budgetSweep = setInterval(() => this.keepWithinBudget(), BUDGET_CHECK_MS);
    unrefTimer(this.budgetSweep);
  }

  /**
   * Registers a listener and greets it with `hello`. With `from: 'utterance'` it first gets the current
   * utterance from its beginning (as far as the broker kept it), then goes on live.
   */
  add(stream: string, format: AudioFormat, socket: ListenerSocket, options: ListenOptions = {}): Listener {
    return this.admit({ id: this.options.newId(), stream, format, socket, timing: options.timing ?? false, place: -1 }, options);
  }

  /** Registers a listener that is its own record (a listener connection): see `add`. */
  admit(listener: ListenerRecord, options: ListenOptions = {}): Listener {
    const { stream, format } = listener;
    let group = this.streams.get(stream);
    if (!group) {
      const created = new StreamListeners(stream, this.heartbeats.assign());
      created.unsubscribe = this.options.broker.subscribe(stream, (event) => this.deliver(created, event));
      this.streams.set(stream, (group = created));
    }
    // The stream's name as the registry holds it: each request parses its own copy, which the listener would keep.
    listener.stream = group.name;
    const hello: Hello = {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      stream,
      listener_id: listener.id,
      format: { encoding: format.encoding, sample_rate: format.sampleRate, channels: 1 },
      heartbeat_ms: this.options.heartbeatMs,
      clock: { sync_delay_ms: this.options.syncDelayMs, time: this.options.relayClock() },
    };
    this.options.metrics?.listenerConnected();
    this.send(listener, JSON.stringify(hello));
    if (options.from === 'utterance') {
      const joined = group;
      joined.pending.add(listener);
      this.options.broker.replay(stream, (replayed) => this.catchUp(joined, listener, replayed));
    } else {
      this.join(group, listener);
    }
    return listener;
  }

  remove(listener: Listener): void {
    this.overSince.delete(listener);
    const group = this.streams.get(listener.stream);
    if (!group) return;
    const channel = group.channel(formatKey(listener.format));
    const removed = group.pending.delete(listener) || group.catchUps.delete(listener) || channel?.delete(listener) === true;
    if (!removed) return;
    if (channel?.listeners.size === 0) group.closeChannel(formatKey(listener.format));
    if (group.size === 0) {
      group.unsubscribe();
      this.streams.delete(listener.stream);
    }
  }

  /** Samples of `utterance` sent to this listener (its current or last ended one), else null. */
  sentTo(listener: Listener, utterance: number): SentSamples | null {
    const group = this.streams.get(listener.stream);
    if (!group) return null;
    const channel = group.catchUps.get(listener) ?? group.channel(formatKey(listener.format));
    return channel && (group.catchUps.has(listener) || channel.listeners.has(listener)) ? channel.sentOf(utterance) : null;
  }

  count(stream: string): number {
    return this.streams.get(stream)?.size ?? 0;
  }

  /** Every listener of the stream on this instance. */
  listenersOf(stream: string): Iterable<Listener> {
    return this.streams.get(stream)?.all() ?? [];
  }

  formats(stream: string): Array<{ format: AudioFormat; listeners: number }> {
    const group = this.streams.get(stream);
    return group ? group.channels.map((c) => ({ format: c.format, listeners: c.listeners.size })) : [];
  }

  get totalListeners(): number {
    let total = 0;
    for (const group of this.streams.values()) total += group.size;
    return total;
  }

  /** Closes every listener (e.g. 1001 on shutdown) and stops the heartbeat. */
  close(code: number, reason: string): void {
    this.heartbeats.stop();
    clearInterval(this.budgetSweep);
    this.overSince.clear();
    for (const group of this.streams.values()) {
      group.unsubscribe();
      for (const listener of group.all()) safeClose(listener.socket, code, reason);
    }
    this.streams.clear();
  }

  /** Puts a listener on its format's shared channel; mid-utterance it gets the start, then the audio from here on. */
  private join(group: StreamListeners, listener: Listener): void {
    const key = formatKey(listener.format);
    let channel = group.channel(key);
    if (!channel) group.openChannel(key, (channel = new FormatChannel(listener.format, this.options.sourceFormat)));
    channel.add(listener);
    if (channel.startMessage) this.send(listener, channel.startMessage);
    if (channel.timingMessage && listener.timing) this.send(listener, channel.timingMessage);
  }

  /** Replays the current utterance to one listener through a converter of its own; live events follow in deliver(). */
  private catchUp(group: StreamListeners, listener: Listener, replayed: ReplayedUtterance | null): void {
    if (!group.pending.delete(listener)) return;
    if (!replayed || this.streams.get(listener.stream) !== group) {
      this.join(group, listener);
      return;
    }
    const channel = new FormatChannel(listener.format, this.options.sourceFormat);
    group.catchUps.set(listener, channel);
    for (const frame of channel.frames(replayed.start)) this.send(listener, frame);
    channel.startAt(replayed.skippedBytes);
    for (const event of replayed.events) this.sendConverted(listener, channel, event);
  }

  /** Every event of every stream goes through here: plain loops, and audio without an array of frames, allocate nothing. */
  private deliver(group: StreamListeners, event: BrokerEvent): void {
    const channels = group.channels;
    for (let i = 0; i < channels.length; i++) {
      const channel = channels[i]!;
      if (event.type === 'audio') {
        const frame = channel.audioFrame(event);
        if (frame) this.broadcastChannel(channel.listeners, frame);
        continue;
      }
      const frames = channel.frames(event);
      for (let f = 0; f < frames.length; f++) this.broadcastChannel(channel.socketsFor(event), frames[f]!);
    }
    // After the shared channels, so a listener whose replay ends here joins them for the next event only.
    if (group.catchUps.size > 0) this.deliverToCatchUps(group, event);
  }

  private deliverToCatchUps(group: StreamListeners, event: BrokerEvent): void {
    for (const [listener, channel] of group.catchUps) {
      if (event.utterance !== channel.current) {
        group.catchUps.delete(listener);
        this.join(group, listener);
        continue;
      }
      this.sendConverted(listener, channel, event);
      if (event.type === 'utterance_end' && group.catchUps.delete(listener)) this.join(group, listener);
    }
  }

  /** One event through a listener's own converter (a catch-up); `timing` only to a listener that asked. */
  private sendConverted(listener: Listener, channel: FormatChannel, event: BrokerEvent): void {
    const frames = channel.frames(event);
    if (event.type === 'timing' && !listener.timing) return;
    for (const frame of frames) this.send(listener, frame);
  }

  /** Sends one frame to a format's listeners: once to its socket group, one by one to the rest; checks for slow readers. */
  private broadcastChannel(sockets: ChannelSockets, frame: string | Uint8Array): void {
    let sent = sockets.sendGrouped(frame);
    if (sockets.direct.size > 0) for (const listener of sockets.direct) if (this.write(listener, frame)) sent++;
    if (sent > 0) this.options.metrics?.frameSent(frame, sent);
    if (sockets.sweepDue(performance.now(), this.slowSweepMs)) sockets.forEach(this.checkKeepsUp);
  }

  /** Sends one frame to many listeners; the metrics count it once, with its number of copies. */
  private broadcast(listeners: Iterable<Listener>, frame: string | Uint8Array): void {
    let sent = 0;
    for (const listener of listeners) if (this.write(listener, frame)) sent++;
    if (sent > 0) this.options.metrics?.frameSent(frame, sent);
  }

  private send(listener: Listener, frame: string | Uint8Array): void {
    if (this.write(listener, frame)) this.options.metrics?.frameSent(frame);
  }

  /** Writes a frame to one listener's socket; false when it was not sent (closed, dropped as slow, failed). */
  private write(listener: Listener, frame: string | Uint8Array): boolean {
    const { socket } = listener;
    if (!socket.isOpen() || !this.keepsUp(listener)) return false;
    try {
      socket.send(frame);
      return true;
    } catch (error) {
      this.options.logger.warn('listener send failed', { stream: listener.stream, listener_id: listener.id, error });
      this.remove(listener);
      safeClose(socket, 1011, 'send failed');
      return false;
    }
  }

  private readonly checkKeepsUp = (listener: Listener): void => void this.keepsUp(listener);

  /** False when the listener's socket has held more than its allowance for the grace period: it is dropped. */
  private keepsUp(listener: Listener): boolean {
    if (listener.socket.bufferedAmount() > this.options.maxBufferedSeconds * bytesPerSecond(listener.format)) {
      const now = performance.now();
      const since = this.overSince.get(listener) ?? now;
      this.overSince.set(listener, since);
      if (now - since < SLOW_LISTENER_GRACE_MS) return true;
      this.dropSlow(listener);
      return false;
    }
    // Skip the map entirely in the usual case where nobody is over.
    if (this.overSince.size > 0) this.overSince.delete(listener);
    return true;
  }

  private keepWithinBudget(): void {
    const drop = this.budget.check(this.streams);
    for (let i = 0; i < drop.length; i++) this.dropSlow(drop[i]!);
  }

  private dropSlow(listener: Listener): void {
    const error = new RelayError('slow_listener');
    this.options.logger.warn('slow listener dropped', { stream: listener.stream, listener_id: listener.id, buffered: listener.socket.bufferedAmount() });
    this.remove(listener);
    this.options.onSlowListener?.(listener);
    this.options.metrics?.slowListenerDropped();
    safeClose(listener.socket, error.closeCode, error.code);
  }

  /** The message is made only for a slice that has streams: most of the ticks of a relay with few streams find none. */
  private sendHeartbeats(slice: number): void {
    let beat: string | null = null;
    for (const group of this.streams.values()) {
      if (group.heartbeatSlice !== slice) continue;
      beat ??= JSON.stringify({ type: 'heartbeat', time: Date.now() } satisfies ListenerMessage);
      for (const channel of group.channels) this.broadcastChannel(channel.listeners, beat);
      if (group.pending.size > 0 || group.catchUps.size > 0) this.broadcast([...group.pending, ...group.catchUps.keys()], beat);
    }
  }
}

function safeClose(socket: ListenerSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed: nothing left to release.
  }
}
