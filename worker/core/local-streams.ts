/** This instance's streams by name: made on first use within the stream limit, forgotten once idle and unheard. */
import { RelayError } from '../../shared/errors.ts';
import { unrefTimer } from '../../shared/timers.ts';
import type { Broker } from '../broker/broker.ts';
import type { RelayLimits } from '../ops/config.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { TTSProvider } from '../providers/provider.ts';
import { newId } from './ids.ts';
import type { HeardTracker } from './heard.ts';
import { Stream } from './stream.ts';

export interface LocalStreamsDeps {
  provider: TTSProvider;
  broker: Broker;
  limits: RelayLimits;
  logger: Logger;
  now: () => number;
  metrics?: Metrics;
  heard?: HeardTracker;
  /** Whether the stream has listeners here: a heard stream is kept however long it stays quiet. */
  isHeard(stream: string): boolean;
}

export class LocalStreams {
  private readonly streams = new Map<string, Stream>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private accepting = true;

  constructor(private readonly deps: LocalStreamsDeps) {
    this.sweeper = setInterval(() => this.forgetIdle(), Math.min(60_000, deps.limits.streamIdleMs));
    unrefTimer(this.sweeper);
  }

  /** False once shutdown began: new streams and utterances are refused, what is in flight goes on. */
  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Whether any stream is speaking or has utterances queued. */
  get busy(): boolean {
    for (const stream of this.streams.values()) if (stream.busy) return true;
    return false;
  }

  get count(): number {
    return this.streams.size;
  }

  /** The named stream, made on first use within the stream limit; refused once shutdown began. */
  open(name: string): Stream {
    if (!this.accepting) throw new RelayError('shutting_down');
    const existing = this.streams.get(name);
    if (existing) return existing;
    const { limits } = this.deps;
    if (this.streams.size >= limits.maxStreams) throw new RelayError('too_many_streams');
    const stream = new Stream(name, {
      provider: this.deps.provider,
      broker: this.deps.broker,
      logger: this.deps.logger,
      now: this.deps.now,
      ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
      ...(this.deps.heard ? { heard: this.deps.heard } : {}),
      newId: () => newId('utt'),
      limits: {
        maxQueue: limits.maxQueue,
        maxCharacters: limits.maxUtteranceChars,
        providerTimeoutMs: limits.providerTimeoutMs,
        idleFlushMs: limits.idleFlushMs,
        playoutLeadMs: limits.playoutLeadMs,
        syncDelayMs: limits.syncDelayMs,
      },
    });
    this.streams.set(name, stream);
    return stream;
  }

  names(): string[] {
    return [...this.streams.keys()];
  }

  get(name: string): Stream | undefined {
    return this.streams.get(name);
  }

  /** The first step of a graceful shutdown: refuse new work (503 shutting_down). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Refuses new work and cancels every stream's current and queued utterances. */
  close(): void {
    this.accepting = false;
    clearInterval(this.sweeper);
    for (const stream of this.streams.values()) stream.cancel(true);
  }

  private forgetIdle(): void {
    const cutoff = this.deps.now() - this.deps.limits.streamIdleMs;
    for (const [name, stream] of this.streams) {
      if (!stream.busy && !this.deps.isHeard(name) && stream.lastActivity < cutoff) this.streams.delete(name);
    }
  }
}
