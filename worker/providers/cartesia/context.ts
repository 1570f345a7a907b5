/** One utterance as one Cartesia context on a pooled socket. */
import { AsyncQueue } from '../../../shared/async-queue.ts';
import { decodeBase64 } from '../../../shared/base64.ts';
import { RelayError } from '../../../shared/errors.ts';
import type { WordTimestamp } from '../../../shared/protocol.ts';
import type { Logger } from '../../ops/logger.ts';
import type { ContextOptions, ProviderEvent, TTSContext } from '../provider.ts';
import type { CartesiaConnection, ContextRoute } from './connection.ts';
import type { ContextSettings } from './context-settings.ts';
import { LeadingWhitespace } from './leading-whitespace.ts';
import type { TextInput } from '../../core/text-input.ts';
import { OperationLog } from './operation-log.ts';
import { sendOperation } from './send-operation.ts';
import type { CartesiaPool } from './pool.ts';
import type { CartesiaErrorMessage, LenientCartesiaMessage } from './schema.ts';
import type { TTSWSContext } from './sdk.ts';
import { SpanTimeline } from './timestamps.ts';
import { upstreamError, upstreamStatus } from './upstream-error.ts';

/** The socket a context is attached to and the SDK context it sends through. */
interface UpstreamLink {
  connection: CartesiaConnection;
  upstream: TTSWSContext;
}

/**
 * One utterance as one Cartesia context. Text waits in the operation log until a socket is ready. A context
 * that loses its socket before Cartesia answered anything is replayed once on a fresh socket under a new id.
 */
export class CartesiaContext implements TTSContext {
  readonly id = `cartesia-${crypto.randomUUID()}`;
  readonly events = new AsyncQueue<ProviderEvent>();
  private readonly log = new OperationLog();
  private readonly leading = new LeadingWhitespace();
  private readonly timeline: SpanTimeline;
  private link: UpstreamLink | null = null;
  private upstreamId = '';
  private acquiring = false;
  private sendQueued = false;
  private attempts = 0;
  private sending: Promise<void> = Promise.resolve();
  private ended = false;
  private stopped = false;
  private flushes = 0;
  /** Our flush ids in the order Cartesia will acknowledge them. */
  private readonly pendingFlushes: number[] = [];
  private endSent = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the inactivity timeout runs out (pool clock); each frame moves it, the timer catches up when it fires. */
  private deadline = 0;

  constructor(
    private readonly settings: ContextSettings,
    private readonly options: ContextOptions,
    private readonly pool: CartesiaPool,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.timeline = new SpanTimeline(options.format);
  }

  push(text: string): void {
    if (this.stopped || this.ended || text === '') return;
    const admitted = this.leading.admit(text);
    if (admitted !== null) this.enqueue({ type: 'text', text: admitted });
  }

  flush(): void {
    if (this.stopped || this.ended) return;
    const flushId = ++this.flushes;
    if (!this.leading.started) {
      // Nothing to flush, and a flush is an empty transcript: Cartesia rejects one that opens a context.
      this.events.push({ type: 'flush_done', flushId });
      return;
    }
    this.pendingFlushes.push(flushId);
    this.enqueue({ type: 'flush' });
  }

  end(): void {
    if (this.stopped || this.ended) return;
    this.ended = true;
    if (!this.leading.started) {
      this.finish({ type: 'done' });
      return;
    }
    this.enqueue({ type: 'end' });
  }

  cancel(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.events.clear();
    this.stopTimer();
    this.releaseUpstream(true);
  }

  private enqueue(operation: TextInput): void {
    this.log.add(operation);
    if (!this.link) this.start();
    else this.sendSoon();
  }

  /** Sends at the end of this turn: what is asked in the same turn goes out together, so a last piece and its end are one request. */
  private sendSoon(): void {
    if (this.sendQueued) return;
    this.sendQueued = true;
    queueMicrotask(() => {
      this.sendQueued = false;
      this.sendPending();
    });
  }

  /** Opens the Cartesia context on a socket: in this turn when one is ready, else once the pool has one (within its limits). */
  private start(): void {
    if (this.acquiring || this.stopped) return;
    const ready = this.pool.acquireNow();
    if (ready) return this.attach(ready);
    this.acquiring = true;
    this.pool.acquire().then(
      (connection) => {
        this.acquiring = false;
        if (this.stopped) connection.unreserve();
        else this.attach(connection);
      },
      (error: unknown) => {
        this.acquiring = false;
        this.fail(error instanceof RelayError ? error : new RelayError('upstream_unavailable', 'Cannot connect to Cartesia.', { cause: error }));
      },
    );
  }

  /** Opens the Cartesia context on `connection`; everything asked so far goes (again) on it at the end of the turn. */
  private attach(connection: CartesiaConnection): void {
    this.upstreamId = crypto.randomUUID();
    const { generation: _generation, ...fixed } = this.settings;
    this.link = { connection, upstream: connection.attach(this.upstreamId, this.route(this.upstreamId), fixed) };
    this.log.rewind();
    this.sendSoon();
  }

  /** Sends what has not gone out yet, in order, one SDK call after the other. */
  private sendPending(): void {
    const link = this.link;
    if (!link) return;
    const unsent = this.log.takeUnsent();
    for (let i = 0; i < unsent.length; i++) {
      const operation = unsent[i]!;
      // Text followed by the end goes as one request with `continue: false`, as a one-shot client sends it.
      const last = operation.type === 'text' && unsent[i + 1]?.type === 'end';
      if (last) i++;
      if (last || operation.type === 'end') this.endSent = true;
      this.chain(async () => {
        if (this.stopped || this.link !== link) return;
        const ok = await link.connection.send(() => sendOperation(link.upstream, operation, last, this.settings.generation));
        // The socket is closing; its close event fails or replays this context.
        if (!ok && !this.stopped && this.link === link) this.logger.debug('Cartesia send skipped on a closing socket', { context: this.id });
      });
    }
    this.armTimer();
  }

  /** Runs SDK sends one after the other, in order; a failure is logged and does not stop the ones after it. */
  private chain(send: () => Promise<void>): void {
    this.sending = this.sending.then(send).catch((error: unknown) => this.logger.warn('Cartesia send failed', { context: this.id, error }));
  }

  private route(upstreamId: string): ContextRoute {
    return {
      message: (message, audio) => {
        if (this.stopped || this.upstreamId !== upstreamId) return;
        this.log.markAnswered();
        this.handle(message, audio);
        if (!this.stopped) this.armTimer();
      },
      lost: (error) => {
        if (this.stopped || this.upstreamId !== upstreamId) return;
        this.link = null;
        if (!this.log.isAnswered && this.attempts === 0 && error.code !== 'shutting_down') {
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

  private handle(message: LenientCartesiaMessage, audio: Uint8Array | null): void {
    switch (message.type) {
      case 'chunk': {
        const data = audio ?? decodeBase64(message.data);
        if (data.byteLength === 0) return;
        this.timeline.audio(data.byteLength);
        this.events.push({ type: 'audio', data });
        return;
      }
      case 'timestamps': {
        const words = this.place('word', this.options.timestamps, message.word_timestamps?.words, message.word_timestamps);
        if (words.length > 0) this.events.push({ type: 'timestamps', words });
        return;
      }
      case 'phoneme_timestamps': {
        const phonemes = this.place('phoneme', this.options.phonemeTimestamps, message.phoneme_timestamps?.phonemes, message.phoneme_timestamps);
        if (phonemes.length > 0) this.events.push({ type: 'phoneme_timestamps', phonemes });
        return;
      }
      case 'flush_done': {
        const flushId = this.pendingFlushes.shift();
        this.timeline.flushed();
        if (flushId !== undefined) this.events.push({ type: 'flush_done', flushId });
        return;
      }
      case 'done':
        this.releaseUpstream(false);
        this.finish({ type: 'done' });
        return;
      case 'error':
        this.releaseUpstream(false);
        this.finish({ type: 'error', error: this.upstreamFailed(message) });
        return;
    }
  }

  /** A timestamps frame on the utterance's timeline; nothing when the request did not ask for it or it is empty. */
  private place(kind: 'word' | 'phoneme', asked: boolean | undefined, labels: string[] | undefined, times: { start: number[]; end: number[] } | null | undefined): WordTimestamp[] {
    if (!asked || !labels || !times) return [];
    return this.timeline.place(kind, { labels, starts: times.start, ends: times.end });
  }

  private upstreamFailed(message: CartesiaErrorMessage): RelayError {
    const status = upstreamStatus(message);
    this.logger.warn('Cartesia context failed', { context: this.id, status, error_code: message.error_code, title: message.title });
    // A 429 on a context holds back new contexts for a while; the error says for how long.
    const retryAfter = status === 429 ? this.pool.contextRateLimited().retryAfter : undefined;
    return upstreamError(message, retryAfter);
  }

  /**
   * The inactivity timeout runs while Cartesia owes this context something definite (a flush_done or the
   * final done) and restarts with every frame; text alone does not arm it, as Cartesia may wait for more.
   * A frame only moves the deadline: clearing and setting a timer per audio chunk cost more than the chunk's routing.
   */
  private armTimer(): void {
    if (this.stopped || !this.link || (!this.endSent && this.pendingFlushes.length === 0)) {
      this.stopTimer();
      return;
    }
    this.deadline = this.pool.now() + this.timeoutMs;
    this.timer ??= setTimeout(() => this.checkTimeout(), this.timeoutMs);
  }

  private checkTimeout(): void {
    this.timer = null;
    if (this.stopped) return;
    const left = this.deadline - this.pool.now();
    if (left > 0) {
      this.timer = setTimeout(() => this.checkTimeout(), left);
      return;
    }
    this.timedOut();
  }

  private timedOut(): void {
    const connection = this.link?.connection;
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
    const link = this.link;
    this.link = null;
    if (!link) return;
    link.connection.detach(this.upstreamId);
    if (cancel) this.chain(() => link.connection.send(() => link.upstream.cancel()).then(() => undefined));
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
