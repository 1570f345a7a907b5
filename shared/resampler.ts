/** Streaming sample-rate conversion: a Kaiser-windowed sinc polyphase filter, exact across chunk boundaries. */
import { RelayError } from './errors.ts';
import { HalfbandDecimator } from './halfband.ts';
import { applyRow, PASSBAND, type PolyphaseFilter, polyphaseFilter } from './polyphase-filter.ts';
import { appendSamples } from './sample-buffer.ts';

/** A stateful converter from one sample rate to another, for one mono signal at a time. */
export interface Resampler {
  readonly inputRate: number;
  readonly outputRate: number;
  /**
   * Converts the next chunk; output lags input by the filter's half-length until `flush`.
   * Feeding a signal in any chunking yields the same samples as feeding it whole.
   * When the rates are equal the input array itself is returned.
   */
  process(input: Float32Array): Float32Array;
  /** Emits the tail of the signal (ceil(inputSamples × out / in) samples in all) and starts over for the next one. */
  flush(): Float32Array;
  /** Drops buffered input and starts over without emitting anything. */
  reset(): void;
}

// Stopband attenuation by default: images and aliases end up far below speech at any listening level; more taps
// would cost speed (the filter length grows with it) for nothing audible.
const STOPBAND_DB = 80;
const MAX_RATE = 768_000;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function checkRate(rate: number): void {
  if (!Number.isInteger(rate) || rate <= 0 || rate > MAX_RATE) {
    throw new RelayError('unsupported_sample_rate', `Cannot resample at ${rate} Hz: rates are whole numbers of Hz up to ${MAX_RATE}.`);
  }
}

const EMPTY = new Float32Array(0);

class IdentityResampler implements Resampler {
  readonly inputRate: number;
  readonly outputRate: number;

  constructor(inputRate: number, outputRate: number) {
    this.inputRate = inputRate;
    this.outputRate = outputRate;
  }

  process(input: Float32Array): Float32Array {
    return input;
  }

  flush(): Float32Array {
    return EMPTY;
  }

  reset(): void {}
}

class PolyphaseResampler implements Resampler {
  readonly inputRate: number;
  readonly outputRate: number;
  private readonly filter: PolyphaseFilter;
  private readonly stepWhole: number;
  private readonly stepPhase: number;
  /** Input history; `history[0]` is the oldest sample the next output needs. */
  private history: Float32Array;
  private length = 0;
  /** Index in `history` of the input sample at or just before the next output instant. */
  private position = 0;
  /** How far past `position` the next output instant is, in 1/up of an input sample. */
  private phase = 0;
  /** The table row of the next output: outputs take the rows in turn. */
  private row = 0;
  private inputCount = 0;
  private outputCount = 0;

  constructor(inputRate: number, outputRate: number, stopbandDb: number) {
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    const divisor = gcd(inputRate, outputRate);
    this.filter = polyphaseFilter(outputRate / divisor, inputRate / divisor, stopbandDb);
    this.stepWhole = Math.floor(this.filter.down / this.filter.up);
    this.stepPhase = this.filter.down % this.filter.up;
    this.history = new Float32Array(4096 + 2 * this.filter.half);
    this.reset();
  }

  reset(): void {
    // Silence before the first sample, so the first output is centred on it like every other.
    const lead = this.filter.half - 1;
    this.history.fill(0, 0, lead);
    this.length = lead;
    this.position = lead;
    this.phase = 0;
    this.row = 0;
    this.inputCount = 0;
    this.outputCount = 0;
  }

  process(input: Float32Array): Float32Array {
    this.append(input);
    this.inputCount += input.length;
    return this.run(Infinity);
  }

  flush(): Float32Array {
    const { up, down, half } = this.filter;
    this.append(new Float32Array(half));
    const total = Math.ceil((this.inputCount * up) / down);
    const tail = this.run(total - this.outputCount);
    this.reset();
    return tail;
  }

  private append(input: Float32Array): void {
    this.history = appendSamples(this.history, this.length, input);
    this.length += input.length;
  }

  /** Emits every output whose filter span is buffered, at most `limit` of them, then drops spent input. */
  private run(limit: number): Float32Array {
    const { filter } = this;
    const { up, half } = filter;
    const { stepWhole, stepPhase, history } = this;
    let position = this.position;
    let phase = this.phase;
    let row = this.row;
    // Outputs whose last tap (position + half) is already buffered: position + half < length.
    const span = (this.length - half - position) * up - phase;
    const count = Math.max(0, Math.min(limit, Math.ceil(span / filter.down)));
    const out = new Float32Array(count);
    for (let n = 0; n < count; n++) {
      out[n] = applyRow(filter, history, position - half + 1, row);
      position += stepWhole;
      phase += stepPhase;
      if (phase >= up) {
        phase -= up;
        position++;
      }
      if (++row === up) row = 0;
    }
    const spent = Math.min(position - half + 1, this.length);
    if (spent > 0) {
      history.copyWithin(0, spent, this.length);
      this.length -= spent;
      position -= spent;
    }
    this.position = position;
    this.phase = phase;
    this.row = row;
    this.outputCount += count;
    return out;
  }
}

/**
 * Halves the rate first while it stays this far above the output rate: the polyphase filter's multiply-adds
 * per second are proportional to its input rate (~50 per input sample at −80 dB), a half-band stage costs a
 * few per output. 44.1 kHz → 16 kHz then takes ~1.5 M multiply-adds a second instead of 2.2 M, → 8 kHz ~1 M.
 */
const HALVE_ABOVE = 2.5;

/** Half-band stages down to near the output rate, then the polyphase filter; its length is the polyphase one's. */
class StagedResampler implements Resampler {
  private inputCount = 0;
  private outputCount = 0;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
    private readonly halvings: HalfbandDecimator[],
    private readonly last: Resampler,
  ) {}

  process(input: Float32Array): Float32Array {
    this.inputCount += input.length;
    let signal = input;
    for (const stage of this.halvings) signal = stage.process(signal);
    const out = this.last.process(signal);
    this.outputCount += out.length;
    return out;
  }

  flush(): Float32Array {
    let tail: Float32Array = new Float32Array(0);
    for (const stage of this.halvings) tail = concat(stage.process(tail), stage.flush());
    tail = concat(this.last.process(tail), this.last.flush());
    // Each halving rounds its count up: keep to ceil(n × out / in) in all, as the single filter gives.
    const total = Math.ceil((this.inputCount * this.outputRate) / this.inputRate);
    const out = tail.subarray(0, Math.max(0, total - this.outputCount));
    this.inputCount = 0;
    this.outputCount = 0;
    return out;
  }

  reset(): void {
    for (const stage of this.halvings) stage.reset();
    this.last.reset();
    this.inputCount = 0;
    this.outputCount = 0;
  }
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const joined = new Float32Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * Creates a streaming resampler between two rates (whole Hz). Anti-aliasing cuts off below half the lower
 * rate (flat to 80% of it, `stopbandDb` down from it on). Equal rates get a pass-through that returns its input.
 */
export function createResampler(inputRate: number, outputRate: number, stopbandDb = STOPBAND_DB): Resampler {
  checkRate(inputRate);
  checkRate(outputRate);
  if (inputRate === outputRate) return new IdentityResampler(inputRate, outputRate);
  const halvings: HalfbandDecimator[] = [];
  const passbandEdge = (PASSBAND * outputRate) / 2;
  let rate = inputRate;
  while (rate % 2 === 0 && rate >= HALVE_ABOVE * outputRate) {
    // Stopped here: what would fold below the middle of the output's transition band (passband edge to Nyquist).
    // What folds above that lands where the last filter already takes off ~half the stopband or more, and this one
    // the rest (both together ≥ 80 dB over 8–22 kHz at 44.1 → 16 kHz, as before), for 8 odd taps instead of 10.
    halvings.push(new HalfbandDecimator(stopbandDb, (rate / 2 - passbandEdge - outputRate / 2) / rate));
    rate /= 2;
  }
  const last = rate === outputRate ? new IdentityResampler(rate, outputRate) : new PolyphaseResampler(rate, outputRate, stopbandDb);
  return halvings.length === 0 ? last : new StagedResampler(inputRate, outputRate, halvings, last);
}
