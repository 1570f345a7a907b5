/** One named stream: a FIFO of utterances spoken one at a time through the provider, published to the broker. */
import { type AudioFormat, bytesFor, secondsOf } from '../../shared/audio-format.ts';
import { RelayError, toRelayError } from '../../shared/errors.ts';
import type { EndReason, Heard } from '../../shared/protocol.ts';
import type { Broker, BrokerEvent } from '../broker/broker.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { ProviderEvent, TTSContext, TTSProvider } from '../providers/provider.ts';
import { type HeardTracker, NOTHING_HEARD, type UtteranceHearing } from './heard.ts';
import { DeferredStart } from './deferred-start.ts';
import { Playout } from './playout.ts';
import { ResumingContext } from './resuming-context.ts';
import { relayClockAt } from './relay-clock.ts';
import type { QueueStatus } from './stream-directory.ts';
import { contextOptions, feedText, watchProvider } from './provider-feed.ts';
import { utteranceEndEvent, utteranceEndLog } from './utterance-end.ts';
import { Utterance, type UtteranceOptions, type UtteranceResult } from './utterance.ts';

/** Audio synthesized but not yet released, per stream: at f32 44.1 kHz about 3.5 MB. */
const SYNTHESIS_AHEAD_SECONDS = 20;

export interface StreamLimits {
  maxQueue: number;
  maxCharacters: number;
  /** A provider silent this long after the input ended is declared dead. */
  providerTimeoutMs: number;
  /** Relay buffering: text waiting this long without a boundary is spoken anyway. */
  idleFlushMs: number;
  /** How far ahead of real time audio may be released to listeners. */
  playoutLeadMs: number;
  /** Presentation time = place on the playout timeline + this. */
  syncDelayMs: number;
}

export interface StreamDeps {
  provider: TTSProvider;
  broker: Broker;
  limits: StreamLimits;
  logger: Logger;
  now: () => number;
  newId: () => string;
  metrics?: Metrics;
  /** Collects listeners' playback reports into each utterance's `heard`. */
  heard?: HeardTracker;
}

/** `heard` waits at most this long for released audio to play out (the playout lead may be set far higher). */
const MAX_PLAYOUT_WAIT_MS = 30_000;
/** Outcomes of this many recent utterances stay findable by id (for a barge-in's ack of what was heard). */
const RECENT_RESULTS = 64;

export class Stream {
  readonly format: AudioFormat;
  private readonly queue: Utterance[] = [];
  private current: Utterance | null = null;
  private context: TTSContext | null = null;
  private sequence = 0;
  private running = false;
  private readonly playout: Playout;
  /** What listeners report of the utterance speaking now. */
  private hearing: UtteranceHearing | null = null;
  private readonly recent = new Map<string, Promise<UtteranceResult>>();
  private readonly start: DeferredStart;
  lastActivity: number;

  constructor(
    readonly name: string,
    private readonly deps: StreamDeps,
  ) {
    this.format = deps.provider.preferredFormat;
    this.lastActivity = deps.now();
    this.start = new DeferredStart((event) => deps.broker.publish(name, event));
    this.playout = new Playout(deps.limits.playoutLeadMs, (event) => this.publish(event), deps.now, {
      syncDelayMs: deps.limits.syncDelayMs,
      clockAt: relayClockAt,
    });
  }

  get busy(): boolean {
    return this.current !== null || this.queue.length > 0;
  }

  /**
   * Adds an utterance at the back of the queue; its text arrives through the returned object. With
   * `interrupt` (barge-in) it first cancels what is playing and clears the queue, so it is next. `id` and
   * `number` come from the cluster's queue when another instance took the request. With `source` the audio is
   * already being synthesized (a Cartesia-compatible client's context): the stream plays that context's events
   * in its turn instead of opening one of its own.
   */
  enqueue(options: UtteranceOptions, placement: { interrupt?: boolean; id?: string; number?: number; source?: TTSContext } = {}): Utterance {
    if (placement.interrupt) this.cancel(true);
    if (this.queue.length >= this.deps.limits.maxQueue) {
      throw new RelayError('queue_full', `Stream ${this.name} already has ${this.queue.length} utterances queued.`);
    }
    if (placement.number !== undefined) this.sequence = Math.max(this.sequence, placement.number);
    const utterance = new Utterance(
      placement.id ?? this.deps.newId(),
      placement.number ?? ++this.sequence,
      options,
      this.deps.limits.maxCharacters,
      (failed, error) => this.endUtterance(failed, 'error', error),
    );
    utterance.source = placement.source ?? null;
    this.queue.push(utterance);
    this.recent.set(utterance.id, utterance.result);
    if (this.recent.size > RECENT_RESULTS) this.recent.delete(this.recent.keys().next().value!);
    const { metrics } = this.deps;
    if (metrics) void utterance.result.then((result) => metrics.utteranceEnded(result));
    this.lastActivity = this.deps.now();
    if (!this.running) {
      this.running = true;
      this.run().catch((error: unknown) => this.deps.logger.error('stream loop failed', { stream: this.name, error }));
    }
    return utterance;
  }

  /** Stops the current utterance, and with `all` the queue too; returns the ids stopped. */
  cancel(all: boolean): string[] {
    const stopped: string[] = [];
    if (all) {
      for (const queued of this.queue.splice(0)) {
        queued.finish('cancelled', this.deps.now());
        stopped.push(queued.id);
      }
    }
    if (this.current) {
      stopped.unshift(this.current.id);
      this.endUtterance(this.current, 'cancelled');
    }
    return stopped;
  }

  /** The outcome of one of the stream's recent utterances (it settles once what was heard is known). */
  resultOf(id: string): Promise<UtteranceResult> | undefined {
    return this.recent.get(id);
  }

  /** Cancels one utterance, queued or speaking, leaving the others; false when it is neither (it had ended). */
  cancelUtterance(id: string): boolean {
    const utterance = this.current?.id === id ? this.current : this.queue.find((queued) => queued.id === id);
    if (!utterance || utterance.ended) return false;
    this.endUtterance(utterance, 'cancelled');
    return true;
  }

  status(): QueueStatus {
    return {
      current: this.current
        ? { utterance_id: this.current.id, utterance: this.current.number, started_at: wallTime(this.current.startedAt ?? this.deps.now(), this.deps.now()) }
        : null,
      queue: this.queue.map((u) => ({ utterance_id: u.id, utterance: u.number })),
    };
  }

  /** Ends an utterance: publishes its end and stops its synthesis if it is speaking, or drops it from the queue. */
  private endUtterance(utterance: Utterance, reason: EndReason, error?: RelayError): void {
    if (utterance.ended) return;
    const wasSpeaking = utterance.state === 'speaking';
    utterance.finish(reason, this.deps.now(), error, wasSpeaking ? this.heardOf(utterance, reason) : Promise.resolve(NOTHING_HEARD));
    const queued = this.queue.indexOf(utterance);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (!wasSpeaking) {
      utterance.source?.cancel();
      return;
    }
    if (this.current === utterance) this.context?.cancel();
    // Done: everything was released already. Cancel or error: audio not yet released never will be, and
    // listeners in step stop at the cut.
    const at = this.playout.end(reason !== 'done');
    this.start.flush();
    this.deps.broker.publish(this.name, utteranceEndEvent(utterance, reason, at, error));
    this.deps.logger.info('utterance ended', utteranceEndLog(this.name, utterance, reason, error));
  }

  /** Publishes what the playout releases; its `timing` events place the utterance's audio for the heard latency. */
  private publish(event: BrokerEvent): void {
    this.start.flush();
    this.deps.broker.publish(this.name, event);
    const hearing = this.hearing;
    if (event.type === 'timing' && hearing?.utterance === event.utterance) hearing.placed(event.position, event.at);
  }

  /** Ends the hearing of a speaking utterance: after `done`, its released audio still has to play out. */
  private heardOf(utterance: Utterance, reason: EndReason): Promise<Heard> | undefined {
    const hearing = this.hearing?.utterance === utterance.number ? this.hearing : null;
    if (!hearing) return undefined;
    this.hearing = null;
    const spoken = { text: utterance.text, audioSeconds: utterance.audioSeconds, complete: reason === 'done' };
    return hearing.end(spoken, reason === 'done' ? Math.min(this.playout.aheadMs, MAX_PLAYOUT_WAIT_MS) : 0);
  }

  private async run(): Promise<void> {
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        this.current = next;
        await this.speak(next).catch((error: unknown) => this.endUtterance(next!, 'error', toRelayError(error)));
        this.current = null;
        this.context = null;
        this.lastActivity = this.deps.now();
      }
    } finally {
      this.running = false;
    }
  }

  private async speak(utterance: Utterance): Promise<void> {
    const { provider, now } = this.deps;
    utterance.state = 'speaking';
    utterance.startedAt = now();
    // A synthesis already under way (a Cartesia-compatible context) is played as it is; the provider's own is resumable.
    const context =
      utterance.source ?? new ResumingContext(provider, contextOptions(utterance.options, this.format), { dropNewest: (seconds) => this.dropNewestAudio(utterance, seconds) }, this.deps.logger);
    this.context = context;
    this.hearing = this.deps.heard?.open(this.name, utterance.number) ?? null;
    this.start.announce({ type: 'utterance_start', utterance: utterance.number, utterance_id: utterance.id });

    const watchdog = watchProvider(utterance, this.deps.limits.providerTimeoutMs, now, (error) => this.endUtterance(utterance, 'error', error));
    feedText(utterance, context, this.deps.limits.idleFlushMs).catch((error: unknown) => this.endUtterance(utterance, 'error', toRelayError(error)));

    let finished = false;
    try {
      for await (const event of context.events) {
        if (utterance.ended) break;
        watchdog.heard();
        finished = await this.release(utterance, event);
        watchdog.heard();
      }
    } finally {
      watchdog.stop();
    }
    if (finished) {
      await this.playout.drained();
      this.endUtterance(utterance, 'done');
    } else if (!utterance.ended) {
      this.endUtterance(utterance, 'error', new RelayError('upstream_error', 'The provider ended the utterance without finishing it.'));
    }
  }

  /** Puts one provider event on the playout timeline; true when it is the provider's `done`. */
  private async release(utterance: Utterance, event: ProviderEvent): Promise<boolean> {
    switch (event.type) {
      case 'audio': {
        utterance.firstAudioAt ??= this.deps.now();
        const seconds = secondsOf(this.format, event.data.byteLength);
        utterance.audioSeconds += seconds;
        this.playout.push({ type: 'audio', utterance: utterance.number, data: event.data }, seconds);
        // Hold synthesis a bounded distance ahead of playback: memory stays flat however long the text.
        await this.playout.until(SYNTHESIS_AHEAD_SECONDS);
        return false;
      }
      case 'timestamps':
        this.hearing?.stamped(event.words);
        this.playout.pushAhead({ type: 'timestamps', utterance: utterance.number, utterance_id: utterance.id, words: event.words });
        return false;
      case 'phoneme_timestamps':
        this.playout.pushAhead({
          type: 'phoneme_timestamps',
          utterance: utterance.number,
          utterance_id: utterance.id,
          phonemes: event.phonemes.map(({ word, start, end }) => ({ phoneme: word, start, end })),
        });
        return false;
      case 'flush_done':
        // After the flushed text's audio on the timeline, so whoever waits on it has heard that audio.
        this.playout.push({ type: 'flush_done', utterance: utterance.number, utterance_id: utterance.id, flush_id: event.flushId });
        return false;
      case 'done':
        return true;
      case 'error':
        this.endUtterance(utterance, 'error', event.error);
        return false;
      default:
        return false;
    }
  }

  /** Drops the newest audio of the speaking utterance not yet released (a resume speaks it again). */
  private dropNewestAudio(utterance: Utterance, seconds: number): number {
    const { sampleRate } = this.format;
    const dropped = this.playout.dropNewestAudio(seconds, (event, keepSeconds) => {
      // Only audio events have a length, so only they are cut.
      if (event.type !== 'audio') return { event, seconds: 0 };
      const samples = Math.floor(keepSeconds * sampleRate);
      return { event: { ...event, data: event.data.subarray(0, bytesFor(this.format, samples)) }, seconds: samples / sampleRate };
    });
    utterance.audioSeconds -= dropped;
    return dropped;
  }
}

/** A time on the relay's monotonic clock (`now`), as the wall-clock instant it was, in ISO 8601. */
function wallTime(at: number, now: number): string {
  return new Date(Date.now() - (now - at)).toISOString();
}
