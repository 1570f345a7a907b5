/**
 * Playback reports from this instance's listeners. Each `played` message is checked against what that listener
 * was sent and the audio presented by now (a report past either is capped, one for another utterance refused),
 * rate-capped per listener, kept for the status route, and summed per utterance into a few summaries for the
 * instance that speaks the stream. Nothing here runs per audio frame: only per report and per utterance start and end.
 */
import type { Played } from '../../shared/protocol.ts';
import type { Broker, BrokerEvent } from '../broker/broker.ts';
import { MAX_SUMMARY_SAMPLES, type PlaybackExchange } from '../broker/playback-exchange.ts';
import type { Metrics } from '../ops/metrics.ts';
import { PresentedAudio } from '../core/heard-presented.ts';
import { relayClockAt } from '../core/relay-clock.ts';
import type { SentSamples } from './format-channel.ts';
import type { Listener } from './listener.ts';
import { Reporter } from './reporter.ts';
import { unrefTimer } from '../../shared/timers.ts';

/** Summaries of one utterance leave this instance at most this often while reports come in. */
const SUMMARY_INTERVAL_MS = 100;
/**
 * How far past the audio presented by now a report may reach, beyond the sync delay (a listener not in step plays on
 * arrival, up to the sync delay sooner): a report's own way and a player's queue. Without the bound a listener could
 * claim all it was sent, up to the playout lead plus the sync delay ahead of its time.
 */
const PRESENTED_MARGIN_S = 0.25;

/** What the reports need of the listener hub: a stream's listeners, and how much of an utterance a listener was sent. */
export interface SentLedger {
  sentTo(listener: Listener, utterance: number): SentSamples | null;
  listenersOf(stream: string): Iterable<Listener>;
  count(stream: string): number;
}

export interface ListenerPosition {
  listener_id: string;
  utterance: number | null;
  seconds: number | null;
  lag_seconds: number | null;
  reported_ms_ago: number | null;
}

/** What the listen route and the status route use of the reports. */
export interface PlaybackReports {
  attach(listener: Listener): void;
  detach(listener: Listener): void;
  report(listener: Listener, played: Played): void;
  positions(stream: string): ListenerPosition[];
}

export interface PlayedReportsOptions {
  broker: Pick<Broker, 'subscribe'>;
  fanout: SentLedger;
  exchange: PlaybackExchange;
  instanceId: string;
  now: () => number;
  /** How long after an utterance's end this instance waits for its listeners' final reports. */
  closeAfterMs: number;
  /** The streams' sync delay: a listener not in step hears audio up to this much before its presentation time. */
  syncDelayMs: number;
  metrics?: Metrics;
}

class UtteranceTally {
  readonly present = new Set<Listener>();
  readonly reported = new Map<Listener, { seconds: number; final: boolean }>();
  furthest = 0;
  ended = false;
  samples: Array<[number, number]> = [];
  readonly presented = new PresentedAudio();
  flushTimer: ReturnType<typeof setTimeout> | null = null;
  closeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly utterance: number,
    private readonly reporters: ReadonlyMap<Listener, Reporter>,
  ) {}

  /** Every reporting listener still here has sent its final report. */
  get settled(): boolean {
    for (const listener of this.present) if (this.reporters.get(listener)?.reporting && !this.reported.get(listener)?.final) return false;
    return true;
  }
}

class StreamTally {
  /** The listeners that sent a report (an idle listener has none: the stream's listeners are the hub's). */
  readonly reporters = new Map<Listener, Reporter>();
  readonly utterances = new Map<number, UtteranceTally>();
  /** Utterances up to this number are summed up and closed: a late report for them is refused. */
  closedUpTo = -1;
  unsubscribe: () => void = () => {};
}

export class PlayedReports implements PlaybackReports {
  private readonly streams = new Map<string, StreamTally>();

  constructor(private readonly options: PlayedReportsOptions) {}

  /** A listener joined: it counts for the utterance playing now and those after. */
  attach(listener: Listener): void {
    let tally = this.streams.get(listener.stream);
    if (!tally) {
      const created = new StreamTally();
      created.unsubscribe = this.options.broker.subscribe(listener.stream, (event: BrokerEvent) => this.onEvent(listener.stream, created, event));
      this.streams.set(listener.stream, (tally = created));
    }
    for (const utterance of tally.utterances.values()) if (!utterance.ended) utterance.present.add(listener);
  }

  /** A listener left: its finals are no longer awaited. */
  detach(listener: Listener): void {
    const tally = this.streams.get(listener.stream);
    if (!tally) return;
    tally.reporters.delete(listener);
    for (const utterance of [...tally.utterances.values()]) {
      if (!utterance.reported.has(listener)) utterance.present.delete(listener);
      if (utterance.ended && utterance.settled) this.close(listener.stream, tally, utterance);
    }
    this.forgetIfDone(listener.stream, tally);
  }

  /**
   * Takes one `played` message. Throws `rate_limited` for a listener that floods (its socket is then closed);
   * anything else wrong is refused or capped quietly, and never reaches another listener.
   */
  report(listener: Listener, played: Played): void {
    const tally = this.streams.get(listener.stream);
    if (!tally) return;
    let state = tally.reporters.get(listener);
    if (!state) tally.reporters.set(listener, (state = new Reporter(this.options.now())));
    const sent = this.options.fanout.sentTo(listener, played.utterance);
    const utterance = tally.utterances.get(played.utterance) ?? (sent ? this.lateStart(listener.stream, tally, played.utterance, sent.ended) : undefined);
    const previous = utterance?.reported.get(listener);
    // A first final is always taken (once per utterance), so a listener at its allowance still closes the utterance.
    const firstFinal = played.final === true && previous?.final !== true;
    if (!firstFinal && !state.allow(this.options.now())) {
      this.count('dropped');
      return;
    }
    if (!utterance || sent === null || previous?.final) {
      this.count('refused');
      return;
    }
    const now = this.options.now();
    const claimed = played.samples / listener.format.sampleRate;
    const cap = Math.min(sent.samples / listener.format.sampleRate, (utterance.presented.presentedBy(relayClockAt(now)) ?? Infinity) + this.options.syncDelayMs / 1000 + PRESENTED_MARGIN_S);
    this.count(claimed > cap ? 'capped' : 'accepted');
    const seconds = Math.max(previous?.seconds ?? 0, Math.min(claimed, cap));
    state.reporting = true;
    state.position = { utterance: played.utterance, seconds, at: now };
    utterance.present.add(listener);
    utterance.reported.set(listener, { seconds, final: played.final === true });
    utterance.furthest = Math.max(utterance.furthest, seconds);
    if (utterance.samples.length < MAX_SUMMARY_SAMPLES) utterance.samples.push([seconds, now]);
    if (utterance.ended && utterance.settled) this.close(listener.stream, tally, utterance);
    else this.scheduleSummary(listener.stream, utterance);
  }

  /** Each listener of the stream on this instance: how far it reported playing, and how far behind what it was sent. */
  positions(stream: string): ListenerPosition[] {
    const tally = this.streams.get(stream);
    if (!tally) return [];
    const now = this.options.now();
    return [...this.options.fanout.listenersOf(stream)].map((listener) => {
      const position = tally.reporters.get(listener)?.position;
      if (!position) return { listener_id: listener.id, utterance: null, seconds: null, lag_seconds: null, reported_ms_ago: null };
      const sent = this.options.fanout.sentTo(listener, position.utterance);
      return {
        listener_id: listener.id,
        utterance: position.utterance,
        seconds: round(position.seconds),
        lag_seconds: sent === null ? null : round(Math.max(0, sent.samples / listener.format.sampleRate - position.seconds)),
        reported_ms_ago: Math.round(now - position.at),
      };
    });
  }

  /** Stops every timer (shutdown). */
  stop(): void {
    for (const [stream, tally] of this.streams) {
      for (const utterance of tally.utterances.values()) clearTimers(utterance);
      tally.unsubscribe();
      this.streams.delete(stream);
    }
  }

  private onEvent(stream: string, tally: StreamTally, event: BrokerEvent): void {
    if (event.type === 'utterance_start') {
      if (!tally.utterances.has(event.utterance)) this.open(stream, tally, event.utterance);
    } else if (event.type === 'timing') {
      tally.utterances.get(event.utterance)?.presented.placed(event.position, event.at);
    } else if (event.type === 'utterance_end') {
      const utterance = tally.utterances.get(event.utterance);
      if (utterance) this.ended(stream, tally, utterance);
    }
  }

  private open(stream: string, tally: StreamTally, number: number): UtteranceTally | undefined {
    if (number <= tally.closedUpTo) return undefined;
    const utterance = new UtteranceTally(number, tally.reporters);
    for (const listener of this.options.fanout.listenersOf(stream)) utterance.present.add(listener);
    tally.utterances.set(number, utterance);
    // At once, so the speaking instance knows this one has listeners and waits for its word at the end.
    this.summarize(stream, utterance, false);
    return utterance;
  }

  /** The first report of an utterance whose start this instance saw before it was watching the stream. */
  private lateStart(stream: string, tally: StreamTally, number: number, ended: boolean): UtteranceTally | undefined {
    const utterance = this.open(stream, tally, number);
    if (utterance && ended) this.ended(stream, tally, utterance);
    return tally.utterances.get(number);
  }

  private ended(stream: string, tally: StreamTally, utterance: UtteranceTally): void {
    if (utterance.ended) return;
    utterance.ended = true;
    if (utterance.settled) return this.close(stream, tally, utterance);
    utterance.closeTimer = setTimeout(() => this.close(stream, tally, utterance), this.options.closeAfterMs);
    unrefTimer(utterance.closeTimer);
  }

  private scheduleSummary(stream: string, utterance: UtteranceTally): void {
    if (utterance.flushTimer) return;
    utterance.flushTimer = setTimeout(() => {
      utterance.flushTimer = null;
      this.summarize(stream, utterance, false);
    }, SUMMARY_INTERVAL_MS);
    unrefTimer(utterance.flushTimer);
  }

  private close(stream: string, tally: StreamTally, utterance: UtteranceTally): void {
    if (tally.utterances.get(utterance.utterance) !== utterance) return;
    tally.utterances.delete(utterance.utterance);
    tally.closedUpTo = Math.max(tally.closedUpTo, utterance.utterance);
    clearTimers(utterance);
    this.summarize(stream, utterance, true);
    this.forgetIfDone(stream, tally);
  }

  private summarize(stream: string, utterance: UtteranceTally, closed: boolean): void {
    const now = this.options.now();
    this.options.exchange.send({
      instance: this.options.instanceId,
      stream,
      utterance: utterance.utterance,
      listeners: utterance.present.size,
      reporters: utterance.reported.size,
      furthest: utterance.furthest,
      closed,
      reports: utterance.samples.map(([seconds, at]) => [seconds, Math.max(0, now - at)]),
    });
    utterance.samples = [];
  }

  /** Once the stream has no listener here and no utterance open. */
  private forgetIfDone(stream: string, tally: StreamTally): void {
    if (this.options.fanout.count(stream) > 0 || tally.utterances.size > 0 || this.streams.get(stream) !== tally) return;
    tally.unsubscribe();
    this.streams.delete(stream);
  }

  private count(outcome: 'accepted' | 'capped' | 'refused' | 'dropped'): void {
    this.options.metrics?.playedReport(outcome);
  }
}

function clearTimers(utterance: UtteranceTally): void {
  if (utterance.flushTimer) clearTimeout(utterance.flushTimer);
  if (utterance.closeTimer) clearTimeout(utterance.closeTimer);
  utterance.flushTimer = utterance.closeTimer = null;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
