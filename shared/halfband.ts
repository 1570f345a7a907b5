/**
 * Streaming decimation by two through a half-band filter: a Kaiser-windowed sinc cut off at a quarter of the
 * input rate, whose every other tap is zero, so an output costs one multiply per two taps. A resampler runs it
 * ahead of its polyphase stage while the rate stays well above the output's (44.1 kHz → 8 kHz: 44.1 → 22.05 →
 * 11.025, then polyphase), because the polyphase filter's cost per second grows with its input rate.
 */
import { besselI0, kaiserBeta, kaiserLength } from './kaiser.ts';
import { appendSamples } from './sample-buffer.ts';

/** The centre tap and the odd taps ±1, ±3, … (the even ones are zero), for unit gain at DC. */
function designHalfband(stopbandDb: number, transition: number): { centre: number; odd: Float32Array } {
  // Kaiser's length spans 4 × count − 1 taps.
  const count = Math.max(1, Math.ceil(kaiserLength(stopbandDb, transition) / 4));
  const reach = 2 * count - 1;
  const beta = kaiserBeta(stopbandDb);
  const window = (n: number) => besselI0(beta * Math.sqrt(Math.max(0, 1 - (n / (reach + 1)) ** 2))) / besselI0(beta);
  const raw = Array.from({ length: count }, (_, k) => {
    const n = 2 * k + 1;
    return (Math.sin((Math.PI * n) / 2) / (Math.PI * n)) * window(n);
  });
  const sum = 0.5 + 2 * raw.reduce((a, b) => a + b, 0);
  return { centre: 0.5 / sum, odd: Float32Array.from(raw, (tap) => tap / sum) };
}

/** Halves the rate of one mono signal, exactly across chunk boundaries; output j is centred on input 2j. */
export class HalfbandDecimator {
  private readonly centre: number;
  private readonly odd: Float32Array;
  /** Input samples each side of an output's centre that it reads. */
  private readonly reach: number;
  /** Input history; the next output is centred on `history[next]`. */
  private history: Float32Array;
  private output = new Float32Array(2048);
  private length = 0;
  private next = 0;
  private inputCount = 0;
  private outputCount = 0;

  /** `transition`: the filter's transition band as a fraction of the input rate (pass below ¼ − t/2, stop above ¼ + t/2). */
  constructor(stopbandDb: number, transition: number) {
    const { centre, odd } = designHalfband(stopbandDb, transition);
    this.centre = centre;
    this.odd = odd;
    this.reach = 2 * odd.length - 1;
    this.history = new Float32Array(4096 + 2 * this.reach);
    this.reset();
  }

  /** The next outputs, in a buffer the next `process` reuses: the stage after reads them at once, so no allocation per chunk. */
  process(input: Float32Array): Float32Array {
    this.append(input);
    this.inputCount += input.length;
    const count = this.ready(Infinity);
    if (count > this.output.length) this.output = new Float32Array(Math.max(count, 2 * this.output.length));
    return this.run(count, this.output.subarray(0, count));
  }

  /** Emits the tail (ceil(inputSamples / 2) samples in all), in a fresh array, and starts over. */
  flush(): Float32Array {
    this.append(new Float32Array(this.reach));
    const count = this.ready(Math.ceil(this.inputCount / 2) - this.outputCount);
    const tail = this.run(count, new Float32Array(count));
    this.reset();
    return tail;
  }

  reset(): void {
    // Silence before the first sample, so the first output is centred on it like every other.
    this.history.fill(0, 0, this.reach);
    this.length = this.reach;
    this.next = this.reach;
    this.inputCount = 0;
    this.outputCount = 0;
  }

  private append(input: Float32Array): void {
    this.history = appendSamples(this.history, this.length, input);
    this.length += input.length;
  }

  /** How many outputs have their last input (centre + reach) buffered, at most `limit`. */
  private ready(limit: number): number {
    return Math.max(0, Math.min(limit, Math.floor((this.length - 1 - this.reach - this.next) / 2) + 1));
  }

  /** Fills `out` with the next `count` outputs, then drops spent input. */
  private run(count: number, out: Float32Array): Float32Array {
    const { centre, odd, reach, history } = this;
    const taps = odd.length;
    let c = this.next;
    let n = 0;
    // Two outputs a turn, each with its own sum over the taps' pairs walked outwards from its centre.
    for (; n + 1 < count; n += 2) {
      let acc0 = centre * history[c]!;
      let acc1 = centre * history[c + 2]!;
      for (let k = 0, below = c - 1, above = c + 1; k < taps; k++, below -= 2, above += 2) {
        const tap = odd[k]!;
        acc0 += tap * (history[below]! + history[above]!);
        acc1 += tap * (history[below + 2]! + history[above + 2]!);
      }
      out[n] = acc0;
      out[n + 1] = acc1;
      c += 4;
    }
    if (n < count) {
      let acc = centre * history[c]!;
      for (let k = 0, below = c - 1, above = c + 1; k < taps; k++, below -= 2, above += 2) acc += odd[k]! * (history[below]! + history[above]!);
      out[n] = acc;
      c += 2;
    }
    const spent = Math.min(c - reach, this.length);
    if (spent > 0) {
      history.copyWithin(0, spent, this.length);
      this.length -= spent;
      c -= spent;
    }
    this.next = c;
    this.outputCount += count;
    return out;
  }
}
