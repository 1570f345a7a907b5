/** The relay's state on one instance: streams by name, the provider, the hub and the listeners. */
import { RelayError } from '../../shared/errors.ts';
import { unrefTimer } from '../../shared/timers.ts';
import { type Authenticator, createAuthenticator } from '../security/auth.ts';
import type { RelayConfig } from '../ops/config.ts';
import { FanOut } from '../listeners/fan-out.ts';
import type { Hub } from '../broker/broker.ts';
import type { Logger } from '../ops/logger.ts';
import { Metrics } from '../ops/metrics.ts';
import type { TTSProvider } from '../providers/provider.ts';
import { Stream } from './stream.ts';
import type { StreamDirectory } from './stream-directory.ts';

export interface RelayDeps {
  config: RelayConfig;
  provider: TTSProvider;
  hub: Hub;
  logger: Logger;
  now?: () => number;
  metrics?: Metrics;
  /** Where speak and cancel go; by default this process's streams. The Redis cluster passes its own. */
  directory?: (relay: Relay) => StreamDirectory;
}

export class Relay {
  readonly config: RelayConfig;
  readonly provider: TTSProvider;
  readonly hub: Hub;
  readonly logger: Logger;
  readonly fanout: FanOut;
  readonly now: () => number;
  /** Admin keys, token verifier and per-token rate limits: what `authenticate` needs. */
  readonly auth: Authenticator;
  readonly metrics: Metrics;
  /** Speak, cancel and status by stream name, wherever the stream's queue lives. */
  readonly directory: StreamDirectory;
  private readonly streams = new Map<string, Stream>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;
  private accepting = true;

  constructor(deps: RelayDeps) {
    this.config = deps.config;
    this.provider = deps.provider;
    this.hub = deps.hub;
    this.logger = deps.logger;
    this.now = deps.now ?? (() => performance.now());
    this.auth = createAuthenticator(deps.config, { now: this.now });
    this.metrics = deps.metrics ?? new Metrics();
    this.fanout = new FanOut({
      hub: deps.hub,
      sourceFormat: deps.provider.preferredFormat,
      logger: deps.logger,
      heartbeatMs: deps.config.limits.heartbeatMs,
      maxBufferedSeconds: deps.config.limits.listenerMaxBufferedSeconds,
      newId: () => newId('lst'),
      metrics: this.metrics,
    });
    this.sweeper = setInterval(() => this.forgetIdleStreams(), Math.min(60_000, deps.config.limits.streamIdleMs));
    unrefTimer(this.sweeper);
    this.directory = deps.directory?.(this) ?? localDirectory(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** False once shutdown began: new utterances and listeners are refused, what is in flight goes on. */
  get isAccepting(): boolean {
    return this.accepting && !this.closed;
  }

  /** Whether any stream is speaking or has utterances queued. */
  get busy(): boolean {
    for (const stream of this.streams.values()) if (stream.busy) return true;
    return false;
  }

  /** Whether this instance should get traffic: taking work, its provider and its hub (Redis) reachable. */
  get ready(): boolean {
    return this.isAccepting && this.provider.healthy() && this.hub.healthy();
  }

  /** The first step of a graceful shutdown: refuse new work (503 shutting_down) and let what is in flight finish. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** The named stream, created on first use within the stream limit; refused once shutdown began. */
  stream(name: string): Stream {
    if (!this.isAccepting) throw new RelayError('shutting_down');
    const existing = this.streams.get(name);
    if (existing) return existing;
    if (this.streams.size >= this.config.limits.maxStreams) throw new RelayError('too_many_streams');
    const stream = new Stream(name, {
      provider: this.provider,
      hub: this.hub,
      logger: this.logger,
      now: this.now,
      metrics: this.metrics,
      newId: () => newId('utt'),
      limits: {
        maxQueue: this.config.limits.maxQueue,
        maxCharacters: this.config.limits.maxUtteranceChars,
        providerTimeoutMs: this.config.limits.providerTimeoutMs,
        idleFlushMs: this.config.limits.idleFlushMs,
        playoutLeadMs: this.config.limits.playoutLeadMs,
      },
    });
    this.streams.set(name, stream);
    return stream;
  }

  existingStream(name: string): Stream | undefined {
    return this.streams.get(name);
  }

  /** Names of the streams this instance knows: spoken, queued or listened to, and not yet forgotten as idle. */
  streamNames(): string[] {
    return [...this.streams.keys()];
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Cancels everything, closes listeners with `closeCode` and releases the provider and hub. */
  async close(closeCode = 1001, reason = 'shutting_down'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    // First stop taking queued work from the cluster, so what this instance still owns goes to another.
    await this.directory.close().catch((error: unknown) => this.logger.warn('stream directory close failed', { error }));
    for (const stream of this.streams.values()) stream.cancel(true);
    this.fanout.close(closeCode, reason);
    await Promise.allSettled([this.provider.close(), this.hub.close()]);
  }

  private forgetIdleStreams(): void {
    const cutoff = this.now() - this.config.limits.streamIdleMs;
    for (const [name, stream] of this.streams) {
      if (!stream.busy && this.fanout.count(name) === 0 && stream.lastActivity < cutoff) this.streams.delete(name);
    }
  }
}

/** One process: every stream's queue is here, and speaks where the request lands. */
function localDirectory(relay: Relay): StreamDirectory {
  return {
    enqueue: (name, options, placement) => relay.stream(name).enqueue(options, placement),
    cancel: (name, all) => relay.existingStream(name)?.cancel(all) ?? [],
    status: (name) => relay.existingStream(name)?.status() ?? null,
    close: async () => {},
  };
}

export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
}
