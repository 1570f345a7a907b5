/**
 * Scheduled playout: every TICK_MS the scheduler writes, to one long-lived output, the samples that will be
 * played up to LEAD ahead of now, each filled from the audio whose presentation time (relay clock, through
 * the clock estimate) is the moment it will be heard: --latency-ms sooner than that, for a device that is heard
 * that much after it plays (a Bluetooth speaker); silence where there is none.
 *
 * Output sample n is played at local `base + n/rate` (output-clock.ts) and heard `latency` later, so the content
 * position due at n is K + n with K = (base + relay offset + latency) × rate/1000. The cursor follows K + n: a small error is
 * corrected by dropping or repeating one sample at most every CORRECT_EVERY samples (inaudible, no click);
 * in silence the cursor jumps at once; a large error inside audio (a stall) skips ahead and counts the
 * audio skipped as late.
 */
import type { ContentSpan } from './content.ts';
import { PlayoutContent } from './content.ts';
import type { HeardClock } from './heard-clock.ts';
import type { OutputClock } from './output-clock.ts';
import type { TimelineWav } from './timeline-wav.ts';

export const TICK_MS = 10;
/** At most one sample dropped or repeated per this many: corrects up to 5 ms a second. */
const CORRECT_EVERY = 200;
/** Errors within this are left alone: the device clock's reading wanders about this much. */
const DEADBAND_MS = 1;
/** An error past this inside audio is a skip, not a correction. */
const HARD_ERROR_MS = 40;
/** After an event-loop stall, write at most this much at once. */
const MAX_WRITE_MS = 1000;
/** A catch-up writes at most this many MAX_WRITE_MS turns (an hour). */
const MAX_CATCH_UP_TURNS = 3600;

export interface Output {
  readonly clock: OutputClock;
  write(samples: Float32Array): void;
  /** Drops what it holds, unheard, and starts afresh at output sample 0. */
  restart(): Promise<void>;
}

export interface SchedulerOptions {
  rate: number;
  /** How long after the output plays a sample it is heard (the device's own lag): played that much sooner. */
  latencyMs: number;
  gain: number;
  /** How far ahead of the heard position to write: what the output needs queued never to run dry. */
  leadMs: number;
  /** relay clock − local clock, ms; null while unknown. */
  offset(): number | null;
  now(): number;
  output: Output;
  wav: TimelineWav | null;
  heard: HeardClock | null;
}

export interface PlayoutCounts {
  late_samples: number;
  inserted_samples: number;
  dropped_samples: number;
  skips: number;
  flushes: number;
}

export class Scheduler {
  readonly content: PlayoutContent;
  readonly counts = { inserted: 0, dropped: 0, skips: 0, flushes: 0 };
  /** Output samples written to the current output. */
  private written = 0;
  private cursor: number | null = null;
  /** File position of output sample 0 of the current output (fractional: it follows the cursor); null until the first audio sets it. */
  private wavOffset: number | null = null;
  /** After a flush, until audio is written: the file position heard at local ms `since`. */
  private wavFloating: { position: number; since: number } | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Highest content position written out, per utterance (a cut behind it needs a flush). */
  private readonly writtenTo = new Map<number, number>();

  constructor(private readonly options: SchedulerOptions) {
    this.content = new PlayoutContent(options.rate);
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  countsJSON(): PlayoutCounts {
    const { inserted, dropped, skips, flushes } = this.counts;
    return { late_samples: this.content.lateSamples, inserted_samples: inserted, dropped_samples: dropped, skips, flushes };
  }

  /** Local ms at which the output plays relay position `position` (through the estimate; the latency sooner). */
  outputAtOfPosition(position: number): number | null {
    const offset = this.options.offset();
    return offset === null ? null : (position * 1000) / this.options.rate - this.options.latencyMs - offset;
  }

  /** The utterance is cut at relay ms `at`; if the output already holds audio past it, flush the output. */
  async cut(utterance: number, at: number): Promise<void> {
    this.content.cut(utterance, at);
    const position = (at * this.options.rate) / 1000;
    if ((this.writtenTo.get(utterance) ?? -Infinity) <= position) return;
    await this.flush();
  }

  /** Kills what the output holds: the file loses what was never heard; the cursor finds its place again. */
  async flush(): Promise<void> {
    this.counts.flushes++;
    const { output, wav, heard, rate } = this.options;
    const heardIndex = Math.min(this.written, Math.max(0, Math.floor(((this.options.now() - (output.clock.base() ?? 0)) * rate) / 1000)));
    const restarted = output.restart();
    heard?.flushed();
    if (wav !== null && this.wavOffset !== null) {
      const at = Math.round(this.wavOffset + heardIndex);
      wav.truncate(at);
      // The new output's sample 0 is heard when its clock says: re-placed as it measures, until audio is written.
      this.wavFloating = { position: at, since: this.options.now() };
    }
    this.written = 0;
    this.cursor = null;
    await restarted;
  }

  /**
   * No device to wait for (a recording): writes at once what the ticks up to local ms `until` would write,
   * so a stop leaves in the file every sample received, where it would have been heard.
   */
  catchUp(until: number): void {
    const base = this.options.output.clock.base();
    if (base === null) return;
    const target = Math.floor(((until + this.options.leadMs - base) * this.options.rate) / 1000);
    for (let turn = 0; turn < MAX_CATCH_UP_TURNS && this.written < target; turn++) this.tick(until);
  }

  tick(now = this.options.now()): void {
    const { rate, leadMs, output } = this.options;
    const base = output.clock.base();
    if (base === null) return;
    const measured = output.clock.measured();
    let target = Math.floor(((now + leadMs - base) * rate) / 1000);
    // Until the output says when it plays, no more than it needs to start: what it is given on a guess plays
    // as late as its start-up really takes (seconds, for ffplay at PulseAudio).
    if (!measured) target = Math.min(target, Math.round((leadMs * rate) / 1000));
    const count = Math.min(target - this.written, Math.round((MAX_WRITE_MS * rate) / 1000));
    if (count <= 0) return;
    const out = new Float32Array(count);
    const offset = this.options.offset();
    const spans = offset === null || !measured ? [] : this.fill(out, base, offset);
    if (this.options.gain !== 1) for (let i = 0; i < out.length; i++) out[i]! *= this.options.gain;
    output.write(out);
    this.record(out, spans, base, offset ?? 0);
    this.written += count;
  }

  /** Fills `out` from the content at the cursor, correcting it towards where it should be. */
  private fill(out: Float32Array, base: number, offset: number): ContentSpan[] {
    const { rate } = this.options;
    const desired = ((base + offset + this.options.latencyMs) * rate) / 1000 + this.written;
    const corrections = this.correct(desired, out.length);
    const cursor = this.cursor!;
    const error = cursor - desired;
    const pieces = corrections + 1;
    const spans: ContentSpan[] = [];
    let i = 0;
    let at = cursor;
    for (let piece = 0; piece < pieces; piece++) {
      let length = piece === pieces - 1 ? out.length - i : Math.floor(out.length / pieces);
      if (piece > 0 && error > 0) {
        out[i] = i > 0 ? out[i - 1]! : 0;
        i++;
        length--;
        this.counts.inserted++;
      } else if (piece > 0) {
        at += 1;
        this.content.advance(at);
        this.counts.dropped++;
      }
      spans.push(...this.content.read(at, out, i, length));
      at += length;
      i += length;
    }
    this.cursor = at;
    return spans;
  }

  /** Puts the cursor where it should be when that is free (silence) or forced (a large error); returns the corrections due. */
  private correct(desired: number, count: number): number {
    if (this.cursor === null) {
      this.cursor = desired;
      this.content.skipTo(desired);
      return 0;
    }
    const error = this.cursor - desired;
    if (Math.abs(error) < 0.5) return 0;
    const small = Math.abs(error) <= (DEADBAND_MS * this.options.rate) / 1000;
    const lo = Math.min(this.cursor, desired) - 1;
    const hi = Math.max(this.cursor, desired) + count + 1;
    const hard = Math.abs(error) > (HARD_ERROR_MS * this.options.rate) / 1000;
    const silent = !this.content.hasContent(lo, hi);
    if (small && !silent) return 0;
    if (silent || hard) {
      if (!silent) this.counts.skips++;
      if (desired > this.cursor) this.content.skipTo(desired);
      else this.content.rewind(desired);
      // The file jumps with the cursor, so what follows lands where it is heard: an underrun leaves its silence in it.
      if (this.wavOffset !== null) this.wavOffset += desired - this.cursor;
      this.cursor = desired;
      return 0;
    }
    return Math.min(Math.round(Math.abs(error)), Math.floor(count / CORRECT_EVERY));
  }

  /** The heard clock and the file learn what was written where. */
  private record(out: Float32Array, spans: ContentSpan[], base: number, offset: number): void {
    const { heard, wav, output, rate } = this.options;
    for (const span of spans) {
      if (span.utterance >= 0) heard?.record(output.clock, this.written + span.offset, span);
      const end = span.position + span.count;
      this.writtenTo.set(span.utterance, Math.max(this.writtenTo.get(span.utterance) ?? -Infinity, end));
    }
    if (wav === null || spans.length === 0) return;
    if (this.wavFloating !== null) {
      this.wavOffset = this.wavFloating.position + Math.round(((base - this.wavFloating.since) * rate) / 1000);
      this.wavFloating = null;
    }
    if (this.wavOffset === null) {
      this.wavOffset = -(this.written + spans[0]!.offset);
      wav.startAt = base + offset + ((this.written + spans[0]!.offset) * 1000) / rate;
    }
    wav.write(Math.round(this.wavOffset + this.written), out, spans);
  }
}
