/** What two rooms heard, measured: sound/silence segments, onsets, and the offset between rooms by cross-correlation. */
import type { Capture } from './pulse-rooms.ts';

/** Amplitude below which a room counts as silent (−40 dBFS: espeak speaks at −10..−3, the null sink is exactly 0). */
export const SILENCE_LEVEL = 0.01;
const FRAME_MS = 5;
/** Pauses inside an utterance (between words, at commas) are shorter than this; gaps between utterances longer. */
const UTTERANCE_GAP_MS = 350;
/** Coarse search: envelopes in 1 ms blocks; fine search on samples within this many ms of the coarse lag. */
const ENVELOPE_MS = 1;
const FINE_WINDOW_MS = 4;

export interface Segment {
  /** First sample above SILENCE_LEVEL. */
  start: number;
  /** One past the last sample above SILENCE_LEVEL. */
  end: number;
}

/** Stretches of sound separated by at least `gapMs` of silence, each to the sample. */
export function findSegments(signal: Float32Array, rate: number, gapMs = UTTERANCE_GAP_MS, level = SILENCE_LEVEL): Segment[] {
  const frame = Math.round((rate * FRAME_MS) / 1000);
  const gapFrames = Math.ceil(gapMs / FRAME_MS);
  const segments: Segment[] = [];
  let open: Segment | null = null;
  let quietFrames = 0;
  for (let f = 0; f * frame < signal.length; f++) {
    const from = f * frame;
    const to = Math.min(signal.length, from + frame);
    let first = -1;
    let last = -1;
    for (let i = from; i < to; i++) {
      if (Math.abs(signal[i]!) > level) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first >= 0) {
      if (open) open.end = last + 1;
      else segments.push((open = { start: first, end: last + 1 }));
      quietFrames = 0;
    } else if (open && ++quietFrames >= gapFrames) open = null;
  }
  return segments;
}

/** Index one past the last sample above `level` at or after `from` (== from when it is silent throughout). */
export function silentFrom(signal: Float32Array, from = 0, level = SILENCE_LEVEL): number {
  for (let i = signal.length - 1; i >= from; i--) if (Math.abs(signal[i]!) > level) return i + 1;
  return from;
}

function envelope(signal: Float32Array, from: number, to: number, block: number): Float64Array {
  const out = new Float64Array(Math.max(0, Math.floor((to - from) / block)));
  for (let b = 0; b < out.length; b++) {
    let sum = 0;
    for (let i = from + b * block; i < from + (b + 1) * block; i++) sum += Math.abs(signal[i] ?? 0);
    out[b] = sum / block;
  }
  return out;
}

function correlationAt(a: ArrayLike<number>, b: ArrayLike<number>, lag: number, from: number, to: number): number {
  let sum = 0;
  const lo = Math.max(from, -lag);
  const hi = Math.min(to, b.length - lag);
  for (let i = lo; i < hi; i++) sum += a[i]! * b[i + lag]!;
  return sum;
}

/** The lag in [lo, hi] with the largest correlation, refined between samples by a parabola through its neighbours. */
function peakLag(a: ArrayLike<number>, b: ArrayLike<number>, lo: number, hi: number, from: number, to: number): number {
  let best = lo;
  let bestValue = Number.NEGATIVE_INFINITY;
  const values = new Map<number, number>();
  for (let lag = lo; lag <= hi; lag++) {
    const value = correlationAt(a, b, lag, from, to);
    values.set(lag, value);
    if (value > bestValue) [best, bestValue] = [lag, value];
  }
  const left = values.get(best - 1) ?? correlationAt(a, b, best - 1, from, to);
  const right = values.get(best + 1) ?? correlationAt(a, b, best + 1, from, to);
  const curvature = left - 2 * bestValue + right;
  return curvature < 0 ? best + (0.5 * (left - right)) / curvature : best;
}

/**
 * How much later `b` carries the sound of `a` within samples [from, to), in ms (negative: `b` earlier), to a fraction
 * of a sample: a coarse search of 1 ms envelopes over ±maxLagMs, then the exact peak of the sample correlation.
 */
export function offsetMs(a: Float32Array, b: Float32Array, rate: number, from: number, to: number, maxLagMs = 500): number {
  const block = Math.round((rate * ENVELOPE_MS) / 1000);
  const maxLag = Math.ceil(maxLagMs / ENVELOPE_MS);
  const start = Math.max(0, from - maxLag * block);
  const end = Math.min(a.length, b.length, to + maxLag * block);
  const envA = envelope(a, start, end, block);
  const envB = envelope(b, start, end, block);
  const meanA = envA.reduce((s, v) => s + v, 0) / envA.length;
  const meanB = envB.reduce((s, v) => s + v, 0) / envB.length;
  const centredA = envA.map((v) => v - meanA);
  const centredB = envB.map((v) => v - meanB);
  const coarse = Math.round(peakLag(centredA, centredB, -maxLag, maxLag, 0, centredA.length)) * block;
  const fine = Math.round((rate * FINE_WINDOW_MS) / 1000);
  return (peakLag(a, b, coarse - fine, coarse + fine, from, to) / rate) * 1000;
}

export interface UtteranceOffset {
  /** Onsets in each room, ms from the capture's start. */
  kitchenOnsetMs: number;
  hallOnsetMs: number;
  /** Cross-correlated: how much later the hall heard it than the kitchen, ms. */
  offsetMs: number;
}

/**
 * One entry per utterance heard in both rooms (segments paired in order): onsets and the cross-correlated offset.
 * Throws when the rooms heard a different number of utterances: a room that missed or split one is a failure to report.
 */
export function utteranceOffsets(capture: Capture, gapMs = UTTERANCE_GAP_MS): UtteranceOffset[] {
  const kitchen = findSegments(capture.kitchen, capture.rate, gapMs);
  const hall = findSegments(capture.hall, capture.rate, gapMs);
  if (kitchen.length !== hall.length) {
    const list = (s: Segment[]) => s.map((x) => `${msOf(x.start, capture.rate).toFixed(0)}-${msOf(x.end, capture.rate).toFixed(0)}`).join(', ');
    throw new Error(`the kitchen heard ${kitchen.length} utterances (${list(kitchen)}), the hall ${hall.length} (${list(hall)})`);
  }
  return kitchen.map((k, i) => {
    const h = hall[i]!;
    const maxLagMs = Math.abs(msOf(h.start - k.start, capture.rate)) + 100;
    return {
      kitchenOnsetMs: msOf(k.start, capture.rate),
      hallOnsetMs: msOf(h.start, capture.rate),
      offsetMs: offsetMs(capture.kitchen, capture.hall, capture.rate, k.start, k.end, maxLagMs),
    };
  });
}

export function msOf(samples: number, rate: number): number {
  return (samples / rate) * 1000;
}

/** Median, 95th percentile and largest magnitude of a set of offsets (ms), for reports. */
export function offsetStats(offsets: number[]): { median: number; p95: number; max: number } {
  const sorted = offsets.map(Math.abs).sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { median: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? Number.NaN };
}

/** What one room heard inside a window: first and last sound, ms from the capture's start. */
export interface Heard {
  onsetMs: number;
  endMs: number;
}

export interface WindowOffset {
  kitchen: Heard | null;
  hall: Heard | null;
  /** Cross-correlated over the kitchen's sound: how much later the hall heard it, ms; null when a room was silent. */
  offsetMs: number | null;
}

function heardIn(signal: Float32Array, rate: number, from: number, to: number): Segment | null {
  let start = -1;
  let end = -1;
  for (let i = Math.max(0, from); i < Math.min(signal.length, to); i++) {
    if (Math.abs(signal[i]!) > SILENCE_LEVEL) {
      if (start < 0) start = i;
      end = i + 1;
    }
  }
  return start < 0 ? null : { start, end };
}

/**
 * Per window (epoch ms, as the capture's `startedAt`; e.g. from one speak request to the next): what each room
 * heard in it and the offset between the rooms. Unlike utteranceOffsets it never throws: a room that missed an
 * utterance, or heard only part of it, shows as null or a shorter stretch.
 */
export function offsetsInWindows(capture: Capture, windows: Array<{ from: number; to: number }>, maxLagMs = 250): WindowOffset[] {
  const at = (epochMs: number) => Math.round(((epochMs - capture.startedAt) * capture.rate) / 1000);
  return windows.map(({ from, to }) => {
    const kitchen = heardIn(capture.kitchen, capture.rate, at(from), at(to));
    const hall = heardIn(capture.hall, capture.rate, at(from), at(to));
    const heard = (s: Segment | null): Heard | null => (s === null ? null : { onsetMs: msOf(s.start, capture.rate), endMs: msOf(s.end, capture.rate) });
    const offset = kitchen && hall ? offsetMs(capture.kitchen, capture.hall, capture.rate, kitchen.start, kitchen.end, maxLagMs) : null;
    return { kitchen: heard(kitchen), hall: heard(hall), offsetMs: offset };
  });
}
