/**
 * One relay instance, put together: the provider, the broker, this instance's streams and listeners, and the
 * stream directory through which every ingress reaches a stream. It hands each part only what it uses; the
 * routes get an ingress context (app.ts), never the relay.
 */
import { unrefTimer } from '../../shared/timers.ts';
import { createAuthenticator, type Authenticator } from '../security/auth.ts';
import type { Broker } from '../broker/broker.ts';
import { ListenerHub } from '../listeners/listener-hub.ts';
import { PlayedReports } from '../listeners/played-reports.ts';
import { MemoryPlaybackExchange, type PlaybackExchange } from '../broker/playback-exchange.ts';
import { HeardTracker, type RecentOutcomes } from './heard.ts';
import type { RelayConfig } from '../ops/config.ts';
import type { Logger } from '../ops/logger.ts';
import { Metrics } from '../ops/metrics.ts';
import type { TTSProvider } from '../providers/provider.ts';
import { newId } from './ids.ts';
import { relayClockAt } from './relay-clock.ts';
import { LocalStreams } from './local-streams.ts';
import { MemoryDirectory } from './memory-directory.ts';
import type { Stream } from './stream.ts';
import type { StreamDirectory } from './stream-directory.ts';

export interface RelayDeps {
  config: RelayConfig;
  provider: TTSProvider;
  broker: Broker;
  logger: Logger;
  now?: () => number;
  metrics?: Metrics;
  /** Where speak and cancel go, given this instance's streams; by default those streams. The Redis cluster passes its own. */
  directory?: (streams: LocalStreams) => StreamDirectory;
  /** Carries listeners' playback summaries to the instance speaking a stream; in-process by default. */
  exchange?: PlaybackExchange;
  /** This instance's name in playback summaries. */
  instanceId?: string;
}

// A listener's instance waits at most this long for it to play out what it holds (the playout lead, bounded).
const MAX_PLAYOUT_WAIT_MS = 30_000;

export class Relay {
  readonly config: RelayConfig;
  readonly provider: TTSProvider;
  readonly broker: Broker;
  readonly logger: Logger;
  /** This instance's listeners, by stream. */
  readonly listeners: ListenerHub;
  readonly now: () => number;
  /** The listener protocol's relay clock (shared/protocol.ts relayClockSchema) now. */
  readonly clock: () => number;
  /** Admin keys, token verifier and per-token rate limits: what `authenticate` needs. */
  readonly auth: Authenticator;
  readonly metrics: Metrics;
  /** Open, speak, cancel and status by stream name, wherever the stream's queue lives. */
  readonly directory: StreamDirectory;
  /** This instance's listeners' `played` reports. */
  readonly played: PlayedReports;
  /** Recent utterances' outcomes here, by stream and id. */
  readonly outcomes: RecentOutcomes;
  private readonly streams: LocalStreams;
  private closed = false;
  /** False from start until the warm-up rehearsal is over (see `warming`): readiness waits for it. */
  private warm = true;

  constructor(deps: RelayDeps) {
    this.config = deps.config;
    this.provider = deps.provider;
    this.broker = deps.broker;
    this.logger = deps.logger;
    this.now = deps.now ?? (() => performance.now());
    this.clock = () => relayClockAt(this.now());
    this.auth = createAuthenticator(deps.config, { now: this.now });
    this.metrics = deps.metrics ?? new Metrics();
    const { limits } = deps.config;
    this.listeners = new ListenerHub({
      broker: deps.broker,
      sourceFormat: deps.provider.preferredFormat,
      logger: deps.logger,
      heartbeatMs: limits.heartbeatMs,
      maxBufferedSeconds: limits.listenerMaxBufferedSeconds,
      bufferBudgetBytes: limits.listenerBufferBudgetBytes,
      newId: () => newId('lst'),
      relayClock: this.clock,
      syncDelayMs: limits.syncDelayMs,
      metrics: this.metrics,
    });
    const exchange = deps.exchange ?? new MemoryPlaybackExchange();
    this.played = new PlayedReports({
      broker: deps.broker,
      fanout: this.listeners,
      exchange,
      instanceId: deps.instanceId ?? 'local',
      now: this.now,
      closeAfterMs: Math.min(limits.playoutLeadMs, MAX_PLAYOUT_WAIT_MS) + limits.heardWaitMs,
      syncDelayMs: limits.syncDelayMs,
      metrics: this.metrics,
    });
    this.streams = new LocalStreams({
      heard: new HeardTracker({ exchange, now: this.now, graceMs: limits.heardWaitMs, metrics: this.metrics }),
      provider: deps.provider,
      broker: deps.broker,
      limits,
      logger: deps.logger,
      now: this.now,
      metrics: this.metrics,
      isHeard: (stream) => this.listeners.count(stream) > 0,
    });
    this.directory = deps.directory?.(this.streams) ?? new MemoryDirectory(this.streams);
    this.outcomes = { of: (stream, id) => this.streams.get(stream)?.resultOf(id) };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** False once shutdown began: new utterances and listeners are refused, what is in flight goes on. */
  get isAccepting(): boolean {
    return this.streams.isAccepting && !this.closed;
  }

  /** Whether any stream is speaking or has utterances queued here. */
  get busy(): boolean {
    return this.streams.busy;
  }

  /** Whether this instance should get traffic: warmed up, taking work, its provider and its broker (Redis) reachable. */
  get ready(): boolean {
    return this.warm && this.isAccepting && this.provider.healthy() && this.broker.healthy();
  }

  /** Whether the warm-up rehearsal at start is over (or there was none). */
  get isWarm(): boolean {
    return this.warm;
  }

  /**
   * Not ready until `warmUp` settles, however it ends, or `boundMs` passed (a slow machine serves cold rather than
   * never): a balancer sends the first caller to a warm instance. The relay serves meanwhile, whoever calls it.
   */
  warming(warmUp: Promise<unknown>, boundMs: number): void {
    this.warm = false;
    const over = () => {
      this.warm = true;
      clearTimeout(bound);
    };
    const bound = unrefTimer(setTimeout(over, boundMs));
    warmUp.then(over, over);
  }

  get streamCount(): number {
    return this.streams.count;
  }

  get listenerCount(): number {
    return this.listeners.totalListeners;
  }

  /** The first step of a graceful shutdown: refuse new work (503 shutting_down) and let what is in flight finish. */
  stopAccepting(): void {
    this.streams.stopAccepting();
  }

  /** The stream as this instance holds it, if it does (for status probes and tests). */
  existingStream(name: string): Stream | undefined {
    return this.streams.get(name);
  }

  /** Cancels everything, closes listeners with `closeCode` and releases the provider and broker. */
  async close(closeCode = 1001, reason = 'shutting_down'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.streams.stopAccepting();
    // First stop taking queued work from the cluster, so what this instance still owns goes to another.
    await this.directory.close().catch((error: unknown) => this.logger.warn('stream directory close failed', { error }));
    this.streams.close();
    this.listeners.close(closeCode, reason);
    this.played.stop();
    await Promise.allSettled([this.provider.close(), this.broker.close()]);
  }
}
