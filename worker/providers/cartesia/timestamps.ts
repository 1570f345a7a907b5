/**
 * Cartesia's word and phoneme timestamps on the utterance's timeline: seconds from the first sample of its
 * audio, non-negative and non-decreasing, even where Cartesia restarts its clock after a flush.
 */
import { type AudioFormat, secondsOf } from '../../../shared/audio-format.ts';
import type { WordTimestamp } from '../../../shared/protocol.ts';

/** One timestamps frame: labels with their start and end times, in parallel arrays. */
export interface SpanFrame {
  labels: string[];
  starts: number[];
  ends: number[];
}

// A frame starting this much before the previous span is taken for a clock restart, not for jitter.
const RESTART_SLACK_SECONDS = 0.05;

/**
 * Cartesia reports times in seconds from the start of the context, which is where the utterance's audio
 * starts for its listeners. Times that restart (a frame starting before `lastStart`) are taken as relative
 * to the latest flush, which ended `flushBoundary` seconds in; every span is kept non-decreasing and
 * non-negative. Returns the spans and the start of the last one, for the next frame.
 */
export function normaliseSpans(frame: SpanFrame, lastStart: number, flushBoundary: number): { spans: WordTimestamp[]; lastStart: number } {
  const count = Math.min(frame.labels.length, frame.starts.length, frame.ends.length);
  if (count === 0) return { spans: [], lastStart };
  const restarted = (frame.starts[0] ?? 0) + RESTART_SLACK_SECONDS < lastStart && flushBoundary > 0;
  const offset = restarted ? flushBoundary : 0;
  const spans: WordTimestamp[] = [];
  let last = lastStart;
  for (let i = 0; i < count; i++) {
    const start = Math.max(last, round((frame.starts[i] ?? 0) + offset), 0);
    const end = Math.max(start, round((frame.ends[i] ?? 0) + offset));
    spans.push({ word: frame.labels[i] ?? '', start, end });
    last = start;
  }
  return { spans, lastStart: last };
}

/** One context's timeline: the audio emitted so far, the latest flush boundary, the last span of each kind. */
export class SpanTimeline {
  private audioBytes = 0;
  private flushBoundary = 0;
  private readonly lastStart = { word: 0, phoneme: 0 };

  constructor(private readonly format: AudioFormat) {}

  audio(bytes: number): void {
    this.audioBytes += bytes;
  }

  /** A flush completed: later frames may count from here. */
  flushed(): void {
    this.flushBoundary = secondsOf(this.format, this.audioBytes);
  }

  place(kind: 'word' | 'phoneme', frame: SpanFrame): WordTimestamp[] {
    const placed = normaliseSpans(frame, this.lastStart[kind], this.flushBoundary);
    this.lastStart[kind] = placed.lastStart;
    return placed.spans;
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1e4) / 1e4;
}
