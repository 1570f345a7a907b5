/**
 * The broker across instances. A stream's events go to this instance's handlers at once, and to Redis once per
 * stream (a binary envelope on a pub/sub channel), whatever the number of listeners or instances; every other
 * instance with listeners subscribes to the channel and converts locally. The current utterance is also kept
 * in Redis, bounded, so a listener on any instance can start from its beginning.
 */
import { unrefTimer } from '../../shared/timers.ts';
import type { Logger } from '../ops/logger.ts';
import { decodeEnvelope, encodeEnvelope, encodeMarker, fromHex, SEQ_TAKEOVER } from './envelope.ts';
import type { Broker, BrokerEvent, BrokerHandler, ReplayedUtterance } from './broker.ts';
import type { RedisKeys } from './redis-keys.ts';
import type { Reply, RedisLink } from './redis-link.ts';
import { type BufferedEvent, UtteranceBuffer } from './utterance-buffer.ts';

// A replay buffer whose owner vanished without an end is dropped by Redis after this.
const REPLAY_TTL_MS = 15 * 60_000;
// A replay read's marker normally returns within a round trip; past this the listener joins live.
const MARKER_TIMEOUT_MS = 3000;

/** Stores the event in the replay buffer and publishes it, atomically, so a reader can line the two up. */
const PUBLISH_SCRIPT = `
local mode = ARGV[1]
if mode == 'start' then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
elseif mode == 'add' then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  local drop = tonumber(ARGV[5])
  if drop > 0 then redis.call('LTRIM', KEYS[2], drop, -1) end
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
elseif mode == 'end' then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return redis.call('PUBLISH', ARGV[3], ARGV[2])`;

/** Reads the replay buffer and publishes a marker in the same step: events before the marker are in the read. */
const READ_SCRIPT = `
local start = redis.call('GET', KEYS[1]) or ''
local events = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('PUBLISH', ARGV[1], ARGV[2])
return {start, events}`;

export interface RedisBrokerOptions {
  link: RedisLink;
  keys: RedisKeys;
  /** 16 hex digits: this instance, as written in the envelopes it publishes. */
  instanceId: string;
  /** Bytes of the current utterance kept per stream for `?from=utterance` (0 keeps none). */
  replayBytes: number;
  logger: Logger;
}

/** Byte counts through Redis, for the traffic figures. */
export interface RedisBrokerTraffic {
  publishedBytes: number;
  publishedEvents: number;
  receivedBytes: number;
  receivedEvents: number;
}

class StreamState {
  readonly handlers = new Set<BrokerHandler>();
  /** True when `buffer` holds the current utterance from its start (seen live, published here, or read back). */
  complete = false;
  subscribed: Promise<void> | null = null;
  waiting: Array<(utterance: ReplayedUtterance | null) => void> = [];
  /** A replay read in flight: its reply and its marker may come back in either order. */
  read: { marker: number; history?: Reply; markerSeen: boolean; since: Array<{ event: BrokerEvent; seq: number }> } | null = null;

  get reading(): boolean {
    return this.read !== null;
  }

  constructor(readonly buffer: UtteranceBuffer) {}
}

export class RedisBroker implements Broker {
  readonly name = 'redis';
  readonly traffic: RedisBrokerTraffic = { publishedBytes: 0, publishedEvents: 0, receivedBytes: 0, receivedEvents: 0 };
  private readonly streams = new Map<string, StreamState>();
  private readonly sender: Uint8Array;
  private markers = 0;

  constructor(private readonly options: RedisBrokerOptions) {
    this.sender = fromHex(options.instanceId);
    options.link.onHealthChange((healthy) => (healthy ? this.resubscribe() : this.forgetHistory()));
  }

  publish(stream: string, event: BrokerEvent): void {
    const state = this.state(stream, event.type === 'utterance_start');
    const seq = event.type === 'utterance_start' ? 0 : state ? state.buffer.nextSeq : SEQ_TAKEOVER;
    const kept = state?.buffer.append(event, seq) ?? { offset: 0, dropped: 0 };
    if (state && event.type === 'utterance_start') state.complete = true;
    const envelope = encodeEnvelope(event, seq, kept.offset, this.sender);
    this.traffic.publishedBytes += envelope.byteLength;
    this.traffic.publishedEvents++;
    this.send(stream, event, envelope, kept.dropped);
    if (state) this.deliver(stream, state, event);
  }

  subscribe(stream: string, handler: BrokerHandler): () => void {
    const state = this.state(stream, true)!;
    state.handlers.add(handler);
    if (!state.subscribed) this.ensureSubscribed(stream, state);
    return () => {
      state.handlers.delete(handler);
      if (state.handlers.size > 0) return;
      state.subscribed = null;
      this.options.link.unsubscribe(this.options.keys.events(stream)).catch(() => {});
      this.forgetIfIdle(stream, state);
    };
  }

  private ensureSubscribed(stream: string, state: StreamState): void {
    const subscribed = this.options.link.subscribe(this.options.keys.events(stream), (message) => this.receive(stream, message));
    state.subscribed = subscribed;
    subscribed.catch((error: unknown) => {
      this.options.logger.warn('redis subscribe failed; retried when Redis is back', { stream, error });
      if (state.subscribed === subscribed) state.subscribed = null;
    });
  }

  replay(stream: string, deliver: (utterance: ReplayedUtterance | null) => void): void {
    const state = this.streams.get(stream);
    if (!state || state.complete || this.options.replayBytes === 0) {
      deliver(state?.buffer.snapshot() ?? null);
      return;
    }
    state.waiting.push(deliver);
    if (!state.reading) this.readBack(stream, state).catch((error: unknown) => this.options.logger.error('replay read failed', { stream, error }));
  }

  healthy(): boolean {
    return this.options.link.healthy;
  }

  /** Closes the Redis connections too: the relay closes its broker last. */
  async close(): Promise<void> {
    this.streams.clear();
    await this.options.link.close();
  }

  /** Redis is away: what arrives after it is back may have a gap, so replays read Redis again. */
  private forgetHistory(): void {
    for (const state of this.streams.values()) {
      state.complete = false;
      state.buffer.clear();
    }
  }

  /** Redis is back: subscriptions that failed meanwhile are made again (node-redis restores the others). */
  private resubscribe(): void {
    for (const [stream, state] of this.streams) {
      if (state.handlers.size > 0 && !state.subscribed) this.ensureSubscribed(stream, state);
    }
  }

  /** The stream's state, created when `create` (a subscription or an utterance start) asks for it. */
  private state(stream: string, create: boolean): StreamState | undefined {
    let state = this.streams.get(stream);
    if (!state && create) this.streams.set(stream, (state = new StreamState(new UtteranceBuffer(this.options.replayBytes))));
    return state;
  }

  private send(stream: string, event: BrokerEvent, envelope: Uint8Array, dropped: number): void {
    const { link, keys, replayBytes } = this.options;
    const channel = keys.events(stream);
    if (replayBytes === 0) {
      link.send(['PUBLISH', channel, envelope]);
      return;
    }
    const mode = event.type === 'utterance_start' ? 'start' : event.type === 'utterance_end' ? 'end' : 'add';
    link
      .script(PUBLISH_SCRIPT, [keys.replayStart(stream), keys.replayEvents(stream)], [mode, envelope, channel, String(REPLAY_TTL_MS), String(dropped)])
      .catch((error: unknown) => this.options.logger.debug('broker event not published', { stream, error }));
  }

  private receive(stream: string, message: Uint8Array): void {
    const state = this.streams.get(stream);
    if (!state) return;
    const envelope = decodeEnvelope(message);
    if (!envelope) {
      this.options.logger.warn('undecodable broker envelope skipped', { stream, bytes: message.byteLength });
      return;
    }
    if (envelope.marker !== undefined) {
      if (envelope.sender === this.options.instanceId) this.markerArrived(stream, state, envelope.marker);
      return;
    }
    // This instance delivered its own events when it published them.
    if (envelope.sender === this.options.instanceId) return;
    this.traffic.receivedBytes += message.byteLength;
    this.traffic.receivedEvents++;
    const { event } = envelope;
    if (state.read?.markerSeen) state.read.since.push({ event, seq: envelope.seq });
    state.buffer.append(event, envelope.seq);
    if (event.type === 'utterance_start') state.complete = true;
    this.deliver(stream, state, event);
  }

  private deliver(stream: string, state: StreamState, event: BrokerEvent): void {
    for (const handler of state.handlers) {
      try {
        handler(event);
      } catch (error) {
        this.options.logger.error('broker subscriber failed', { stream, error });
      }
    }
    if (event.type === 'utterance_end') this.forgetIfIdle(stream, state);
  }

  /**
   * Reads the stream's replay buffer back from Redis. The read also publishes a marker: events before the marker
   * are in the read (or arrived before we subscribed), events after it arrive live after the marker. The read's
   * reply and the marker come on different connections, so either may be first; events arriving live after the
   * marker are kept until both are in, then the replay is handed over.
   */
  private async readBack(stream: string, state: StreamState): Promise<void> {
    const marker = ++this.markers;
    const read: NonNullable<StreamState['read']> = { marker, markerSeen: false, since: [] };
    state.read = read;
    try {
      if (!state.subscribed) throw new Error('not subscribed');
      await state.subscribed;
      const { keys, link } = this.options;
      read.history = await link.script(READ_SCRIPT, [keys.replayStart(stream), keys.replayEvents(stream)], [keys.events(stream), encodeMarker(marker, this.sender)]);
      if (read.markerSeen) {
        this.finishRead(stream, state, read);
        return;
      }
      // A marker lost with the connection must not leave listeners waiting: they join live instead.
      const timer = setTimeout(() => {
        if (state.read !== read) return;
        state.read = null;
        this.flushWaiting(state);
      }, MARKER_TIMEOUT_MS);
      unrefTimer(timer);
    } catch (error) {
      this.options.logger.warn('replay unavailable; the listener joins live', { stream, error });
      if (state.read === read) state.read = null;
      this.flushWaiting(state);
    }
  }

  private markerArrived(stream: string, state: StreamState, marker: number): void {
    const read = state.read;
    if (!read || read.marker !== marker) return;
    read.markerSeen = true;
    if (read.history !== undefined) this.finishRead(stream, state, read);
  }

  private finishRead(stream: string, state: StreamState, read: NonNullable<StreamState['read']>): void {
    state.read = null;
    if (!state.complete) {
      const [start, events] = Array.isArray(read.history) ? read.history : [];
      const startEnvelope = start instanceof Uint8Array && start.byteLength > 0 ? decodeEnvelope(start) : null;
      if (startEnvelope?.event?.type === 'utterance_start' && startEnvelope.marker === undefined) {
        const history: BufferedEvent[] = [];
        for (const entry of Array.isArray(events) ? events : []) {
          const decoded = entry instanceof Uint8Array ? decodeEnvelope(entry) : null;
          if (!decoded?.event || decoded.event.utterance !== startEnvelope.event.utterance) continue;
          const bytes = decoded.event.type === 'audio' ? decoded.event.data.byteLength : 64;
          history.push({ seq: decoded.seq, event: decoded.event, offset: decoded.offset, bytes });
        }
        state.buffer.replace(startEnvelope.event, startEnvelope.seq, history);
      } else {
        state.buffer.clear();
      }
      // What arrived live since the marker follows the read.
      for (const { event, seq } of read.since) state.buffer.append(event, seq);
      state.complete = true;
    }
    this.flushWaiting(state);
    this.forgetIfIdle(stream, state);
  }

  private flushWaiting(state: StreamState): void {
    const waiting = state.waiting;
    state.waiting = [];
    const snapshot = state.complete ? state.buffer.snapshot() : null;
    for (const deliver of waiting) deliver(snapshot);
  }

  private forgetIfIdle(stream: string, state: StreamState): void {
    if (state.handlers.size === 0 && state.buffer.utterance === null && !state.reading && this.streams.get(stream) === state) this.streams.delete(stream);
  }
}
