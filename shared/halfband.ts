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
  // An even count of odd taps, for the loop below that takes two per turn.
  const count = 2 * Math.max(1, Math.ceil(kaiserLength(stopbandDb, transition) / 8));
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

  process(input: Float32Array): Float32Array {
    this.append(input);
    this.inputCount += input.length;
    return this.run(Infinity);
  }

  /** Emits the tail (ceil(inputSamples / 2) samples in all) and starts over. */
  flush(): Float32Array {
    this.append(new Float32Array(this.reach));
    const tail = this.run(Math.ceil(this.inputCount / 2) - this.outputCount);
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

  private run(limit: number): Float32Array {
    const { centre, odd, reach, history } = this;
    const taps = odd.length;
    // Outputs whose last input (centre + reach) is buffered.
    const count = Math.max(0, Math.min(limit, Math.floor((this.length - 1 - reach - this.next) / 2) + 1));
    const out = new Float32Array(count);
    let c = this.next;
    for (let n = 0; n < count; n++) {
      // Two partial sums, the taps' pairs walked outwards from the centre (twice as fast as one sum here).
      let acc0 = centre * history[c]!;
      let acc1 = 0;
      let below = c - 1;
      let above = c + 1;
      for (let k = 0; k < taps; k += 2) {
        acc0 += odd[k]! * (history[below]! + history[above]!);
        acc1 += odd[k + 1]! * (history[below - 2]! + history[above + 2]!);
        below -= 4;
        above += 4;
      }
      out[n] = acc0 + acc1;
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
