/** Streaming conversion of raw audio bytes from one format to another, whatever the chunk boundaries. */
import { type AudioFormat, bytesPerSample, sameFormat } from './audio-format.ts';
import { encodeSamples, readSamples } from './codecs.ts';
import { createResampler, type Resampler } from './resampler.ts';

/** A stateful converter for one signal; `flush` ends it and readies the transcoder for the next. */
export interface Transcoder {
  readonly from: AudioFormat;
  readonly to: AudioFormat;
  /**
   * Converts the next chunk of bytes in `from`; a partial sample at the end is kept for the next chunk.
   * Between equal formats a chunk of whole samples is returned as is, without a copy.
   */
  push(bytes: Uint8Array): Uint8Array;
  /** Emits what the resampler still holds; a dangling partial sample is dropped. */
  flush(): Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Joins a held partial sample with the next chunk and splits off the new partial sample. */
class SampleAligner {
  private readonly sampleBytes: number;
  private readonly carry: Uint8Array;
  private carried = 0;

  constructor(sampleBytes: number) {
    this.sampleBytes = sampleBytes;
    this.carry = new Uint8Array(sampleBytes);
  }

  /** The whole samples available after this chunk, as a view of `bytes` when nothing was held. */
  align(bytes: Uint8Array): Uint8Array {
    const size = this.sampleBytes;
    if (size === 1) return bytes;
    if (this.carried === 0) {
      const whole = bytes.byteLength - (bytes.byteLength % size);
      if (whole === bytes.byteLength) return bytes;
      this.hold(bytes.subarray(whole));
      return bytes.subarray(0, whole);
    }
    const total = this.carried + bytes.byteLength;
    const whole = total - (total % size);
    if (whole === 0) {
      this.carry.set(bytes, this.carried);
      this.carried = total;
      return EMPTY;
    }
    const joined = new Uint8Array(whole);
    joined.set(this.carry.subarray(0, this.carried));
    const used = whole - this.carried;
    joined.set(bytes.subarray(0, used), this.carried);
    this.carried = 0;
    this.hold(bytes.subarray(used));
    return joined;
  }

  reset(): void {
    this.carried = 0;
  }

  private hold(rest: Uint8Array): void {
    this.carry.set(rest);
    this.carried = rest.byteLength;
  }
}

class PassThroughTranscoder implements Transcoder {
  readonly from: AudioFormat;
  readonly to: AudioFormat;
  private readonly aligner: SampleAligner;

  constructor(from: AudioFormat, to: AudioFormat) {
    this.from = from;
    this.to = to;
    this.aligner = new SampleAligner(bytesPerSample(from.encoding));
  }

  push(bytes: Uint8Array): Uint8Array {
    return this.aligner.align(bytes);
  }

  flush(): Uint8Array {
    this.aligner.reset();
    return EMPTY;
  }
}

/**
 * G.711's companding leaves quantisation noise ~38 dB under the signal at every level; aliases and images 60 dB
 * down sit 20 dB beneath it, and the shorter filters cost ~30% less. Linear formats keep the resampler's 80 dB.
 */
const G711_STOPBAND_DB = 60;

function isG711(format: AudioFormat): boolean {
  return format.encoding === 'pcm_mulaw' || format.encoding === 'pcm_alaw';
}

class ConvertingTranscoder implements Transcoder {
  readonly from: AudioFormat;
  readonly to: AudioFormat;
  private readonly aligner: SampleAligner;
  private readonly resampler: Resampler | undefined;

  constructor(from: AudioFormat, to: AudioFormat) {
    this.from = from;
    this.to = to;
    this.aligner = new SampleAligner(bytesPerSample(from.encoding));
    // The noisier end sets how far down aliases need to be.
    const stopbandDb = isG711(from) || isG711(to) ? G711_STOPBAND_DB : undefined;
    this.resampler = from.sampleRate === to.sampleRate ? undefined : createResampler(from.sampleRate, to.sampleRate, stopbandDb);
  }

  push(bytes: Uint8Array): Uint8Array {
    const whole = this.aligner.align(bytes);
    if (whole.byteLength === 0) return EMPTY;
    // The resampler copies its input into its own history and the encoder reads it at once: no copy needed.
    const samples = readSamples(this.from.encoding, whole);
    const converted = this.resampler ? this.resampler.process(samples) : samples;
    return converted.length === 0 ? EMPTY : encodeSamples(this.to.encoding, converted);
  }

  flush(): Uint8Array {
    this.aligner.reset();
    const tail = this.resampler?.flush();
    return tail && tail.length > 0 ? encodeSamples(this.to.encoding, tail) : EMPTY;
  }
}

/**
 * Creates a transcoder from one raw mono format to another: decode, resample, encode. Equal formats
 * get a pass-through that only keeps chunks whole-sample aligned.
 */
export function createTranscoder(from: AudioFormat, to: AudioFormat): Transcoder {
  return sameFormat(from, to) ? new PassThroughTranscoder(from, to) : new ConvertingTranscoder(from, to);
}
