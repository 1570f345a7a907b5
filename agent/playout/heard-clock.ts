/**
 * Which utterance and sample is heard now: the scheduler records every run of an utterance it writes out
 * (output sample index, utterance sample) and the output's clock says when each output sample is heard.
 * This is the `PlaybackClock` the played reporter asks (issue 13's exact heard position).
 */
import { localClock } from '../clock-sync.ts';
import type { PlaybackClock } from '../played-reporter.ts';
import type { ContentSpan } from './content.ts';
import type { OutputClock } from './output-clock.ts';

interface HeardSpan extends ContentSpan {
  /** Output sample index of the span's first sample, on `clock`. */
  index: number;
  clock: OutputClock;
}

/** Spans older than this are heard and reported; keep a margin for the last report of an utterance. */
const KEEP_MS = 30_000;

export interface PendingEnd {
  /** Sample just past the last of the utterance still waiting to be written, and the local ms the output plays it. */
  samples: number;
  outputAt: number;
}

export class HeardClock implements PlaybackClock {
  private spans: HeardSpan[] = [];

  constructor(
    private readonly rate: number,
    /** What of the utterance waits in the playout buffer, not yet written out. */
    private readonly pending: (utterance: number) => PendingEnd | null,
    /** How long after the output plays a sample it is heard (--latency-ms: the device's own lag). */
    private readonly deviceLatencyMs = 0,
    private readonly now: () => number = localClock,
  ) {}

  record(clock: OutputClock, index: number, span: ContentSpan): void {
    const last = this.spans.at(-1);
    if (last && last.clock === clock && last.utterance === span.utterance && last.index + last.count === index && last.sample + last.count === span.sample) {
      last.count += span.count;
    } else {
      this.spans.push({ ...span, index, clock });
    }
    const oldest = this.now() - KEEP_MS;
    while (this.spans.length > 1 && this.heardAt(this.spans[0]!, this.spans[0]!.count) < oldest) this.spans.shift();
  }

  wrote(_utterance: number, _samples: number): void {}

  played(utterance: number): number {
    const now = this.now();
    let played = 0;
    for (const span of this.spans) {
      if (span.utterance !== utterance) continue;
      const heard = Math.floor(((now - this.heardAt(span, 0)) * this.rate) / 1000);
      if (heard > 0) played = Math.max(played, span.sample + Math.min(span.count, heard));
    }
    return played;
  }

  written(utterance: number): number {
    let end = this.pending(utterance)?.samples ?? 0;
    for (const span of this.spans) if (span.utterance === utterance) end = Math.max(end, span.sample + span.count);
    return end;
  }

  remainingMs(utterance: number): number {
    const pending = this.pending(utterance);
    let until = pending === null ? 0 : pending.outputAt + this.deviceLatencyMs;
    for (const span of this.spans) if (span.utterance === utterance) until = Math.max(until, this.heardAt(span, span.count));
    return Math.max(0, until - this.now());
  }

  /** A cut needs nothing here: the scheduler drops the audio past it, and tells `flushed()` if the output held some. */
  cut(): void {}

  /** The output was flushed: what it held and had not played is never heard. */
  flushed(): void {
    const now = this.now();
    this.spans = this.spans.flatMap((span) => {
      const heard = Math.floor(((now - this.heardAt(span, 0)) * this.rate) / 1000);
      if (heard <= 0) return [];
      return [{ ...span, count: Math.min(span.count, heard) }];
    });
  }

  private heardAt(span: HeardSpan, offset: number): number {
    return (span.clock.base() ?? 0) + ((span.index + offset) * 1000) / this.rate + this.deviceLatencyMs;
  }
}
