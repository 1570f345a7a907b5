/**
 * What was heard of each utterance this instance speaks: the playback summaries of every instance with
 * listeners, the released audio's place on the playout timeline and the word timestamps, turned into
 * `heard` once every instance has had its say about the utterance (or a bounded wait ran out).
 */
import type { Heard, WordTimestamp } from '../../shared/protocol.ts';
import type { PlaybackExchange, PlaybackSummary } from '../broker/playback-exchange.ts';
import type { Metrics } from '../ops/metrics.ts';
import { PresentedAudio } from './heard-presented.ts';
import { heardWords } from './heard-text.ts';
import { relayClockAt } from './relay-clock.ts';
import type { UtteranceResult } from './utterance.ts';
import { unrefTimer } from '../../shared/timers.ts';

export interface HeardTrackerOptions {
  exchange: PlaybackExchange;
  now: () => number;
  /** After the last audio should have played (at once, after a cut), how long to wait for listeners' reports. */
  graceMs: number;
  metrics?: Metrics;
}

/** What the utterance said, for mapping a position to its words. */
export interface SpokenText {
  text: string;
  audioSeconds: number;
  /** Its text was all synthesized (it ended `done`). */
  complete: boolean;
}

/** Outcomes of a stream's recent utterances on this instance, by id: what a barge-in's ack reports as heard. */
export interface RecentOutcomes {
  of(stream: string, id: string): Promise<UtteranceResult> | undefined;
}

export const NOTHING_HEARD: Heard = { text: '', words: 0, seconds: 0, listeners: 0, unconfirmed: 0 };

export class HeardTracker {
  constructor(private readonly options: HeardTrackerOptions) {}

  /** Starts collecting for an utterance that begins speaking now. */
  open(stream: string, utterance: number): UtteranceHearing {
    return new UtteranceHearing(stream, utterance, this.options);
  }
}

export class UtteranceHearing {
  private readonly words: WordTimestamp[] = [];
  /** The utterance's `timing` events: where each position is presented on the relay clock. */
  private readonly presented = new PresentedAudio();
  private readonly instances = new Map<string, PlaybackSummary>();
  private readonly unsubscribe: () => void;
  private ending: { spoken: SpokenText; resolve: (heard: Heard) => void; timer: ReturnType<typeof setTimeout> } | null = null;

  constructor(
    readonly stream: string,
    readonly utterance: number,
    private readonly options: HeardTrackerOptions,
  ) {
    this.unsubscribe = options.exchange.subscribe(stream, (summary) => this.receive(summary));
  }

  /** The playout placed the audio from `position` seconds on at presentation time `at` (relay clock). */
  placed(position: number, at: number): void {
    this.presented.placed(position, at);
  }

  stamped(words: readonly WordTimestamp[]): void {
    for (const word of words) this.words.push(word);
  }

  /** The utterance ended; `remainingMs` of its released audio is still to play. Resolves with what was heard. */
  end(spoken: SpokenText, remainingMs: number): Promise<Heard> {
    if (this.ending) return Promise.resolve(this.heard(this.ending.spoken));
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(), remainingMs + this.options.graceMs);
      unrefTimer(timer);
      this.ending = { spoken, resolve, timer };
      this.check();
    });
  }

  private receive(summary: PlaybackSummary): void {
    if (summary.utterance !== this.utterance) return;
    const previous = this.instances.get(summary.instance);
    if (previous?.closed) return;
    this.instances.set(summary.instance, { ...summary, furthest: Math.max(summary.furthest, previous?.furthest ?? 0) });
    const now = relayClockAt(this.options.now());
    for (const [position, ageMs] of summary.reports) {
      // A report at 0 samples (the agent sends one before anything plays) says nothing about latency.
      if (position <= 0) continue;
      const due = this.presented.presentationOf(position);
      if (due !== null) this.options.metrics?.heardAfter((now - ageMs - due) / 1000);
    }
    this.check();
  }

  /** Every instance that had listeners has closed its summary: no need to wait for the deadline. */
  private check(): void {
    if (!this.ending) return;
    for (const summary of this.instances.values()) if (!summary.closed) return;
    this.finish();
  }

  private finish(): void {
    const ending = this.ending;
    if (!ending) return;
    clearTimeout(ending.timer);
    this.unsubscribe();
    ending.resolve(this.heard(ending.spoken));
  }

  private heard(spoken: SpokenText): Heard {
    let furthest = 0;
    let listeners = 0;
    let present = 0;
    for (const summary of this.instances.values()) {
      furthest = Math.max(furthest, summary.furthest);
      listeners += summary.reporters;
      present += Math.max(summary.listeners, summary.reporters);
    }
    const seconds = Math.min(furthest, spoken.audioSeconds);
    const { text, words } = listeners === 0 ? { text: '', words: 0 } : heardWords(spoken.text, this.words, seconds, spoken.audioSeconds, spoken.complete);
    return { text, words, seconds: Math.round(seconds * 1000) / 1000, listeners, unconfirmed: present - listeners };
  }
}
