/**
 * The polyphase resampler's filter: a Kaiser-windowed sinc cut off at the lower rate's Nyquist, one row of taps
 * per output phase, kept in the order successive outputs read them and only half of it (the other half is the
 * same rows backwards).
 */
import { besselI0, kaiserBeta, kaiserLength } from './kaiser.ts';

// Passband edge as a fraction of the lower Nyquist; the stopband starts at that Nyquist, so nothing aliases.
export const PASSBAND = 0.8;

export interface PolyphaseFilter {
  /** Phases (the output rate over the rates' GCD). */
  up: number;
  /** Input samples per `up` outputs (the input rate over the rates' GCD). */
  down: number;
  /** Input samples on each side of an output instant. */
  half: number;
  /**
   * Rows 0 … `kept` − 1 of `2 × half` taps, in the order successive outputs use them: row k serves outputs that
   * fall (k × down mod up)/up of the way past an input sample. Row up − k is row k backwards.
   */
  taps: Float32Array;
  kept: number;
}

const filters = new Map<string, PolyphaseFilter>();

/**
 * Output n falls n × down/up input samples in, so its phase steps by down mod up from 0 at the signal's start;
 * rows stored in that order are read as one stream, which the prefetcher keeps up with when the relay's socket
 * writes have evicted the table between two chunks (rows by phase were read in ~35 KB jumps, each a miss). The
 * sinc and its window are even, so phase up − p is phase p backwards and row up − k row k backwards: half the
 * table (45 KB at 22.05 → 16 kHz, 80 dB) to bring back.
 */
function designFilter(up: number, down: number, stopbandDb: number): PolyphaseFilter {
  const ratio = Math.min(1, up / down);
  const stopEdge = 0.5 * ratio;
  const passEdge = stopEdge * PASSBAND;
  const cutoff = (passEdge + stopEdge) / 2;
  const transition = stopEdge - passEdge;
  // Kaiser's estimates of the window shape and length for the attenuation and transition asked for.
  const beta = kaiserBeta(stopbandDb);
  const length = kaiserLength(stopbandDb, transition);
  // An even half-length makes the row width a multiple of 4 for the unrolled inner loop.
  const half = 2 * Math.ceil(length / 4);
  const width = 2 * half;
  const kept = Math.floor(up / 2) + 1;
  const taps = new Float32Array(kept * width);
  const weights = new Float64Array(width);
  const i0Beta = besselI0(beta);
  for (let row = 0, phase = 0; row < kept; row++, phase = (phase + down) % up) {
    const offset = phase / up;
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const u = half - 1 - j + offset;
      const x = 2 * cutoff * u;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const edge = u / half;
      const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - edge * edge))) / i0Beta;
      weights[j] = sinc * window;
      sum += weights[j]!;
    }
    // Unit gain per phase: a DC ripple between phases would add a tone at the phase rate.
    for (let j = 0; j < width; j++) taps[row * width + j] = weights[j]! / sum;
  }
  return { up, down, half, taps, kept };
}

/** The filter from one rate to another (`up`/`down` in lowest terms), designed once per process. */
export function polyphaseFilter(up: number, down: number, stopbandDb: number): PolyphaseFilter {
  const key = `${up}/${down}@${stopbandDb}`;
  let filter = filters.get(key);
  if (!filter) {
    filter = designFilter(up, down, stopbandDb);
    filters.set(key, filter);
  }
  return filter;
}

/** One output: row `row` over the `2 × half` input samples from `history[start]`. */
export function applyRow(filter: PolyphaseFilter, history: Float32Array, start: number, row: number): number {
  const width = 2 * filter.half;
  if (row < filter.kept) return dot(history, start, filter.taps, row * width, width);
  return dotBackwards(history, start, filter.taps, (filter.up - row + 1) * width - 1, width);
}

// Four partial sums let V8 overlap the multiply-adds; the order is fixed, so chunking cannot change results.
function dot(history: Float32Array, start: number, taps: Float32Array, first: number, width: number): number {
  let acc0 = 0;
  let acc1 = 0;
  let acc2 = 0;
  let acc3 = 0;
  for (let j = 0; j < width; j += 4) {
    const h = start + j;
    const t = first + j;
    acc0 += history[h]! * taps[t]!;
    acc1 += history[h + 1]! * taps[t + 1]!;
    acc2 += history[h + 2]! * taps[t + 2]!;
    acc3 += history[h + 3]! * taps[t + 3]!;
  }
  return acc0 + acc1 + acc2 + acc3;
}

/** As `dot`, with the row read from its last tap (`last`) back to its first. */
function dotBackwards(history: Float32Array, start: number, taps: Float32Array, last: number, width: number): number {
  let acc0 = 0;
  let acc1 = 0;
  let acc2 = 0;
  let acc3 = 0;
  for (let j = 0; j < width; j += 4) {
    const h = start + j;
    const t = last - j;
    acc0 += history[h]! * taps[t]!;
    acc1 += history[h + 1]! * taps[t - 1]!;
    acc2 += history[h + 2]! * taps[t - 2]!;
    acc3 += history[h + 3]! * taps[t - 3]!;
  }
  return acc0 + acc1 + acc2 + acc3;
}
