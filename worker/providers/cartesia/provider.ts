/**
 * The Cartesia provider: one Cartesia context per utterance over the official SDK's WebSocket, text pushed
 * with `continue: true` as it arrives, multiplexed over a small pool of sockets.
 */
import { AsyncQueue } from '../../../shared/async-queue.ts';
import { type AudioFormat, secondsOf } from '../../../shared/audio-format.ts';
import { RelayError } from '../../../shared/errors.ts';
import type { WordTimestamp } from '../../../shared/protocol.ts';
import type { CartesiaConfig } from '../../ops/config.ts';
import type { Logger } from '../../ops/logger.ts';
import { type CartesiaConnection, CartesiaPool, type ContextRoute } from './pool.ts';
import type { CartesiaErrorMessage, CartesiaServerMessage } from './schema.ts';
import { readCertificateFile, type SDKContextOptions, type TTSWSContext } from './sdk.ts';
import type { ContextOptions, ProviderEvent, TTSContext, TTSProvider } from '../provider.ts';

// A public Cartesia voice used in its own examples, for relays started without CARTESIA_VOICE_ID.
export const DEFAULT_CARTESIA_VOICE = '6ccbfb76-1fc6-48f7-b71d-91ac6298247b';
const DEFAULT_BASE_URL = 'https://api.cartesia.ai';
// Cartesia's documented generation_config ranges.
const SPEED_RANGE = [0.6, 1.5] as const;
const VOLUME_RANGE = [0.5, 2] as const;
// Text with none of these produces no audio, so Cartesia owes no answer for it.
const SPEAKABLE = /[\p{L}\p{N}]/u;

export class CartesiaProvider implements TTSProvider {
  readonly name = 'cartesia';
  readonly preferredFormat: AudioFormat;
  readonly pool: CartesiaPool;

  constructor(
    private readonly config: CartesiaConfig,
    private readonly logger: Logger,
  ) {
    if (!config.apiKey) throw new RelayError('upstream_unavailable', 'CARTESIA_API_KEY is not set.');
    this.preferredFormat = { encoding: config.encoding, sampleRate: config.sampleRate };
    let ca: string | undefined;
    if (config.caFile) {
      try {
        ca = readCertificateFile(config.caFile);
      } catch (cause) {
        throw new Error(`CARTESIA_CA_FILE: cannot read ${config.caFile}`, { cause });
      }
    }
    this.pool = new CartesiaPool(
      {
        apiKey: config.apiKey,
        baseUrl: config.baseUrl ?? DEFAULT_BASE_URL,
        ...(ca ? { ca } : {}),
        size: config.poolSize,
        contextsPerSocket: config.contextsPerSocket,
        recycleIdleMs: config.recycleIdleMs,
        connectTimeoutMs: config.connectTimeoutMs,
        backoffBaseMs: config.backoffBaseMs,
        backoffMaxMs: config.backoffMaxMs,
        maxWaitMs: config.maxWaitMs,
        rateLimitCooldownMs: config.rateLimitCooldownMs,
      },
      logger,
    );
    // Connect ahead of the first utterance, so it does not pay for the TLS and WebSocket handshakes.
    this.pool.warm().catch((error: unknown) => this.logger.warn('Cartesia is not reachable yet', { error }));
  }

  openContext(options: ContextOptions): TTSContext {
    return new CartesiaContext(this.requestSettings(options), options, this.pool, this.config.contextTimeoutMs, this.logger);
  }

  async ready(): Promise<void> {
    await this.pool.warm();
  }

  healthy(): boolean {
    return this.pool.healthy;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** The fields fixed for a whole Cartesia context, from the request with the configured defaults. */
  private requestSettings(options: ContextOptions): ContextSettings {
    const buffering = options.buffering ?? 'relay';
    return {
      model_id: options.model ?? this.config.modelId,
      voice: options.voice ?? this.config.voiceId ?? DEFAULT_CARTESIA_VOICE,
      output_format: { container: 'raw', encoding: options.format.encoding, sample_rate: options.format.sampleRate },
      language: cartesiaLanguage(options.language) ?? this.config.language,
      // The relay aggregates sentences itself, or lets Cartesia buffer: never both.
      max_buffer_delay_ms: buffering === 'relay' ? 0 : this.config.maxBufferDelayMs,
      ...(options.timestamps ? { add_timestamps: true } : {}),
      ...(options.phonemeTimestamps ? { add_phoneme_timestamps: true } : {}),
      generation: generationConfig(this.config.generation, options.generation),
    };
  }
}

type ContextSettings = Omit<SDKContextOptions, 'contextId' | 'timeout'> & { generation: GenerationConfig | undefined };

interface GenerationConfig {
  speed?: number;
  volume?: number;
  emotion?: string;
}

type PushRequest = Parameters<TTSWSContext['push']>[0];

type Operation = { kind: 'text'; text: string } | { kind: 'flush' } | { kind: 'end' };

/**
 * One utterance as one Cartesia context. Text waits in `operations` until a socket is ready. A context that
 * loses its socket before Cartesia answered anything is replayed once on a fresh socket under a new id.
 */
class CartesiaContext implements TTSContext {
  readonly id: string;
  readonly events = new AsyncQueue<ProviderEvent>();
  /** What was asked of this context and not yet sent, plus, until Cartesia answers, what was sent (for a replay). */
  private readonly operations: Operation[] = [];
  private sent = 0;
  private connection: CartesiaConnection | null = null;
  private upstream: TTSWSContext | null = null;
  private upstreamId = '';
  private acquiring = false;
  private attempts = 0;
  private answered = false;
  private sending: Promise<void> = Promise.resolve();
  /** Leading whitespace held back: Cartesia rejects an empty first transcript. */
  private heldWhitespace = '';
  private hasText = false;
  private ended = false;
  private stopped = false;
  private flushes = 0;
  /** Our flush ids in the order Cartesia will acknowledge them. */
  private readonly pendingFlushes: number[] = [];
  private endSent = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private audioBytes = 0;
  private lastWordStart = 0;
  private lastPhonemeStart = 0;
  /** Seconds of audio emitted when the latest flush completed, for timestamps that restart per flush. */
  private flushBoundarySeconds = 0;

  constructor(
    private readonly settings: ContextSettings,
    private readonly options: ContextOptions,
    private readonly pool: CartesiaPool,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.id = `cartesia-${crypto.randomUUID()}`;
  }

  push(text: string): void {
    if (this.stopped || this.ended || text === '') return;
    if (!this.hasText) {
      if (text.trim() === '') {
        this.heldWhitespace += text;
        return;
      }
      text = this.heldWhitespace + text;
      this.heldWhitespace = '';
      this.hasText = true;
    }
    this.enqueue({ kind: 'text', text });
  }

  flush(): void {
    if (this.stopped || this.ended) return;
    const flushId = ++this.flushes;
    if (!this.hasText) {
      // Nothing to flush, and a flush is an empty transcript: Cartesia rejects one that opens a context.
      this.events.push({ type: 'flush_done', flushId });
      return;
    }
    this.pendingFlushes.push(flushId);
    this.enqueue({ kind: 'flush' });
  }

  end(): void {
    if (this.stopped || this.ended) return;
    this.ended = true;
    if (!this.hasText) {
      this.finish({ type: 'done' });
      return;
    }
    this.enqueue({ kind: 'end' });
  }

  cancel(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.events.clear();
    this.stopTimer();
    this.releaseUpstream(true);
  }

  private enqueue(operation: Operation): void {
    this.operations.push(operation);
    if (this.upstream) this.sendPending();
    else this.start();
  }

  /** Finds a socket (waiting for one within the pool's limits) and opens the Cartesia context on it. */
  private start(): void {
    if (this.acquiring || this.stopped) return;
    this.acquiring = true;
    this.pool.acquire().then(
      (connection) => {
        this.acquiring = false;
        if (this.stopped) {
          connection.unreserve();
          return;
        }
        this.connection = connection;
        this.upstreamId = crypto.randomUUID();
        const { generation: _generation, ...fixed } = this.settings;
        this.upstream = connection.attach(this.upstreamId, this.route(this.upstreamId), fixed);
        this.sent = 0;
        this.sendPending();
      },
      (error: unknown) => {
        this.acquiring = false;
        this.fail(error instanceof RelayError ? error : new RelayError('upstream_unavailable', 'Cannot connect to Cartesia.', { cause: error }));
      },
    );
  }

  /** Sends what has not gone out yet, in order, one SDK call after the other. */
  private sendPending(): void {
    const connection = this.connection;
    const upstream = this.upstream;
    if (!connection || !upstream) return;
    while (this.sent < this.operations.length) {
      const operation = this.operations[this.sent++]!;
      if (operation.kind === 'end') this.endSent = true;
      this.chain(async () => {
        if (this.stopped || this.upstream !== upstream) return;
        const ok = await connection.send(() => this.sendOperation(upstream, operation));
        if (!ok && !this.stopped && this.upstream === upstream) {
          // The socket is closing; its close event fails or replays this context.
          this.logger.debug('Cartesia send skipped on a closing socket', { context: this.id });
        }
      });
    }
    this.forgetSentOnceAnswered();
    this.armTimer();
  }

  /** Once Cartesia has answered, the context can no longer be replayed: what was sent need not be kept. */
  private forgetSentOnceAnswered(): void {
    if (!this.answered || this.sent === 0) return;
    this.operations.splice(0, this.sent);
    this.sent = 0;
  }

  /** Runs SDK sends one after the other, in order; a failure is logged and does not stop the ones after it. */
  private chain(send: () => Promise<void>): void {
    this.sending = this.sending.then(send).catch((error: unknown) => this.logger.warn('Cartesia send failed', { context: this.id, error }));
  }

  private sendOperation(upstream: TTSWSContext, operation: Operation): Promise<void> {
    switch (operation.kind) {
      case 'text':
        return upstream.push({
          transcript: operation.text,
          // Emotion is free text here; Cartesia validates it against its list.
          ...(this.settings.generation ? { generation_config: this.settings.generation as PushRequest['generation_config'] } : {}),
        });
      case 'flush':
        return upstream.flush();
      case 'end':
        return upstream.no_more_inputs();
    }
  }

  private route(upstreamId: string): ContextRoute {
    return {
      message: (message, audio) => {
        if (this.stopped || this.upstreamId !== upstreamId) return;
        if (!this.answered) {
          this.answered = true;
          this.forgetSentOnceAnswered();
        }
        this.handle(message, audio);
        if (!this.stopped) this.armTimer();
      },
      lost: (error) => {
        if (this.stopped || this.upstreamId !== upstreamId) return;
        this.connection = null;
        this.upstream = null;
        if (!this.answered && this.attempts === 0 && error.code !== 'shutting_down') {
          // Nothing reached the listeners yet: replay the context on a fresh socket instead of failing it.
          this.attempts += 1;
          this.logger.info('replaying a Cartesia context on a new socket', { context: this.id, reason: error.message });
          this.start();
          return;
        }
        this.fail(error);
      },
    };
  }

  private handle(message: CartesiaServerMessage, audio: Uint8Array | null): void {
    switch (message.type) {
      case 'chunk': {
        const data = audio ?? decodeBase64(message.data);
        if (data.byteLength === 0) return;
        this.audioBytes += data.byteLength;
        this.events.push({ type: 'audio', data });
        return;
      }
      case 'timestamps': {
        const spans = message.word_timestamps;
        if (!this.options.timestamps || !spans) return;
        const words = this.normalise(spans.words, spans.start, spans.end, 'word');
        if (words.length > 0) this.events.push({ type: 'timestamps', words });
        return;
      }
      case 'phoneme_timestamps': {
        const spans = message.phoneme_timestamps;
        if (!this.options.phonemeTimestamps || !spans) return;
        const phonemes = this.normalise(spans.phonemes, spans.start, spans.end, 'phoneme');
        if (phonemes.length > 0) this.events.push({ type: 'phoneme_timestamps', phonemes });
        return;
      }
      case 'flush_done': {
        const flushId = this.pendingFlushes.shift();
        this.flushBoundarySeconds = secondsOf(this.options.format, this.audioBytes);
        if (flushId !== undefined) this.events.push({ type: 'flush_done', flushId });
        return;
      }
      case 'done':
        this.releaseUpstream(false);
        this.finish({ type: 'done' });
        return;
      case 'error':
        this.releaseUpstream(false);
        this.finish({ type: 'error', error: this.upstreamError(message) });
        return;
    }
  }

  /**
   * Cartesia reports times in seconds from the start of the context, which is where the utterance's audio
   * starts for its listeners. Times that restart (a frame starting before the last one) are taken as relative
   * to the latest flush; every span is kept non-decreasing and non-negative.
   */
  private normalise(labels: string[], starts: number[], ends: number[], kind: 'word' | 'phoneme'): WordTimestamp[] {
    const count = Math.min(labels.length, starts.length, ends.length);
    if (count === 0) return [];
    let last = kind === 'word' ? this.lastWordStart : this.lastPhonemeStart;
    const restarted = (starts[0] ?? 0) + 0.05 < last && this.flushBoundarySeconds > 0;
    const offset = restarted ? this.flushBoundarySeconds : 0;
    const spans: WordTimestamp[] = [];
    for (let i = 0; i < count; i++) {
      const start = Math.max(last, round((starts[i] ?? 0) + offset), 0);
      const end = Math.max(start, round((ends[i] ?? 0) + offset));
      spans.push({ word: labels[i] ?? '', start, end });
      last = start;
    }
    if (kind === 'word') this.lastWordStart = last;
    else this.lastPhonemeStart = last;
    return spans;
  }

  private upstreamError(message: CartesiaErrorMessage): RelayError {
    const status = message.status_code ?? 500;
    const detail = [message.title, message.message ?? message.error].filter(Boolean).join(': ').slice(0, 300);
    const text = `Cartesia answered ${status}${message.error_code ? ` (${message.error_code})` : ''}${detail ? `: ${detail}` : ''}`;
    this.logger.warn('Cartesia context failed', { context: this.id, status, error_code: message.error_code, title: message.title });
    if (status === 429) {
      const limited = this.pool.contextRateLimited();
      return new RelayError('upstream_rate_limited', `${text}.`, limited.retryAfter !== undefined ? { retryAfter: limited.retryAfter } : {});
    }
    if (status === 408 || status === 504) return new RelayError('upstream_timeout', `${text}.`);
    if (status === 503) return new RelayError('upstream_unavailable', `${text}.`);
    return new RelayError('upstream_error', `${text}.`);
  }

  /**
   * The inactivity timeout runs while Cartesia owes this context something definite (a flush_done or the
   * final done) and restarts with every frame; text alone does not arm it, as Cartesia may wait for more.
   */
  private armTimer(): void {
    this.stopTimer();
    if (this.stopped || !this.upstream || (!this.endSent && this.pendingFlushes.length === 0)) return;
    this.timer = setTimeout(() => this.timedOut(), this.timeoutMs);
  }

  private timedOut(): void {
    this.timer = null;
    if (this.stopped) return;
    const connection = this.connection;
    this.logger.warn('Cartesia context timed out', { context: this.id, timeout_ms: this.timeoutMs });
    this.releaseUpstream(true);
    if (connection) this.pool.reportSilence(connection, this.timeoutMs);
    this.fail(new RelayError('upstream_timeout', `Cartesia sent nothing for this utterance for ${this.timeoutMs} ms.`));
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stops routing this context; with `cancel`, asks Cartesia to stop generating it. Late frames are dropped. */
  private releaseUpstream(cancel: boolean): void {
    const connection = this.connection;
    const upstream = this.upstream;
    this.connection = null;
    this.upstream = null;
    if (!connection || !upstream) return;
    connection.detach(this.upstreamId);
    if (cancel) this.chain(() => connection.send(() => upstream.cancel()).then(() => undefined));
  }

  private fail(error: RelayError): void {
    this.releaseUpstream(true);
    this.finish({ type: 'error', error });
  }

  private finish(last: ProviderEvent): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTimer();
    this.events.push(last);
    this.events.close();
  }
}

/** Cartesia wants an ISO 639-1 code; requests may carry a locale such as `en-US` or an espeak voice such as `en-us`. */
function cartesiaLanguage(language: string | undefined): string | undefined {
  const match = language ? /^([a-z]{2,3})(?:[-_].*)?$/i.exec(language) : null;
  return match ? match[1]!.toLowerCase() : undefined;
}

function generationConfig(defaults: GenerationConfig, requested: Record<string, unknown> | undefined): GenerationConfig | undefined {
  const config: GenerationConfig = { ...defaults };
  const speed = requested?.speed;
  const volume = requested?.volume;
  const emotion = requested?.emotion;
  if (typeof speed === 'number' && speed >= SPEED_RANGE[0] && speed <= SPEED_RANGE[1]) config.speed = speed;
  if (typeof volume === 'number' && volume >= VOLUME_RANGE[0] && volume <= VOLUME_RANGE[1]) config.volume = volume;
  if (typeof emotion === 'string' && emotion !== '') config.emotion = emotion;
  return Object.keys(config).length > 0 ? config : undefined;
}

function decodeBase64(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function round(seconds: number): number {
  return Math.round(seconds * 1e4) / 1e4;
}
