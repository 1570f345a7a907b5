// @ts-check
/**
 * The worklet's ring of audio at the context rate: each chunk from the relay resampled (linearly, continuous across
 * chunks, so their edges add no click) and marked with the source samples it holds, so every frame taken out can be
 * credited to its utterance and placed on the relay's timeline. Imported by worklet.js; runs in the audio thread.
 */

/**
 * @typedef {{ utterance: number, offset: number, start: number, end: number, step: number }} Mark
 * One written chunk: source samples from `offset` of `utterance`, at ring frames [start, end) (absolute counts),
 * `step` source samples per rendered frame.
 */

export class ResamplingRing {
  /** @param {number} capacity frames held at most @param {number} sampleRate the context's rate */
  constructor(capacity, sampleRate) {
    this.ring = new Float32Array(capacity);
    this.sampleRate = sampleRate;
    /** Absolute frame counts: written - read is what is buffered. */
    this.written = 0;
    this.read = 0;
    /** @type {Mark[]} */
    this.marks = [];
    /** @type {Set<number>} utterances whose last audio has arrived */
    this.ended = new Set();
    /** The utterance whose audio is arriving, its end still to come: more of it is due. Null when none is. */
    this.open = /** @type {number | null} */ (null);
    /** Chunks cut short because the ring was full. */
    this.dropped = 0;
    // position 1 is input[0]; position 0 is the previous chunk's last sample, so chunks join without a seam. `next`:
    // the source sample of its utterance that the next chunk's input[0] is.
    this.resampler = { rate: 0, utterance: -1, position: 1, last: 0, next: 0 };
  }

  /** Frames buffered. */
  get buffered() {
    return this.written - this.read;
  }

  /** @param {Float32Array} input @param {number} rate @param {number} utterance @param {number} offset of input[0] in its utterance */
  write(input, rate, utterance, offset) {
    const r = this.resampler;
    if (this.open !== null && this.open !== utterance) this.end(this.open);
    if (r.rate !== rate) Object.assign(r, { rate, position: 1, last: 0 });
    r.utterance = utterance;
    this.open = utterance;
    const step = rate / this.sampleRate;
    const capacity = this.ring.length;
    const start = this.written;
    // Output frame k of this chunk sits at source position (r.position + k * step) - 1 relative to input[0]. Every
    // position up to input[n - 1] (position n) is rendered now; one past it needs the next chunk's first sample.
    const first = r.position;
    let position = first;
    const n = input.length;
    while (position <= n + 1e-9) {
      if (this.written - this.read >= capacity) {
        this.dropped++;
        break;
      }
      const i = Math.floor(position) - 1;
      const frac = position - Math.floor(position);
      const a = i < 0 ? r.last : /** @type {number} */ (input[i]);
      const b = i + 1 < n ? /** @type {number} */ (input[i + 1]) : a;
      this.ring[this.written % capacity] = a + (b - a) * frac;
      this.written++;
      position += step;
    }
    r.position = position - n;
    r.last = n > 0 ? /** @type {number} */ (input[n - 1]) : r.last;
    r.next = offset + n;
    if (this.written > start) {
      // The chunk's first rendered frame is source sample `offset + first - 1` (position 0 is the previous chunk's last sample).
      this.marks.push({ utterance, offset: offset + first - 1, start, end: this.written, step });
    }
  }

  /** The last audio of `utterance` has arrived: its last sample is rendered through its period. @param {number} utterance */
  end(utterance) {
    this.ended.add(utterance);
    if (this.open !== utterance) return;
    this.open = null;
    // Positions before 1 lie between its last sample and whatever comes next: held, so that N source samples render
    // as N sample periods at the context rate, and the next utterance starts at its own first sample.
    const r = this.resampler;
    const [start, first, step] = [this.written, r.position, r.rate / this.sampleRate];
    for (; r.position < 1 - 1e-9 && this.buffered < this.ring.length; r.position += step) this.ring[this.written++ % this.ring.length] = r.last;
    if (this.written > start) this.marks.push({ utterance, offset: r.next + first - 1, start, end: this.written, step });
  }

  /** Drops everything buffered, expecting no more of it; returns the utterances that had audio in it. @returns {number[]} */
  flush() {
    this.open = null;
    const utterances = [...new Set(this.marks.map((mark) => mark.utterance))];
    this.marks = [];
    this.read = this.written;
    this.resampler.position = 1;
    this.resampler.last = 0;
    return utterances;
  }

  /** @returns {boolean} whether the audio buffered so far is all there is (the stream has nothing open) */
  drained() {
    return this.open === null;
  }

  /** The next frame out: its mark and its source sample in the utterance; null when empty. */
  head() {
    const mark = this.marks[0];
    return mark ? { mark, sample: mark.offset + (this.read - mark.start) * mark.step } : null;
  }

  /**
   * Takes up to `frames` buffered frames, into `channel` when given (else dropped). `taken(utterance, count)` credits
   * each run to its utterance; `done(utterance)` says an utterance's audio has all been taken.
   * @param {number} frames @param {Float32Array | null} channel
   * @param {(utterance: number, count: number) => void} taken @param {(utterance: number) => void} done
   * @returns {number} frames taken
   */
  take(frames, channel, taken, done) {
    const capacity = this.ring.length;
    let i = 0;
    while (i < frames && this.read < this.written) {
      const mark = /** @type {Mark} */ (this.marks[0]);
      const count = Math.min(frames - i, mark.end - this.read);
      for (let k = 0; channel && k < count; k++) channel[i + k] = /** @type {number} */ (this.ring[(this.read + k) % capacity]);
      taken(mark.utterance, count);
      this.read += count;
      i += count;
      if (this.read === mark.end) {
        this.marks.shift();
        const next = this.marks[0];
        if (next?.utterance !== mark.utterance && (next !== undefined || this.ended.has(mark.utterance))) done(mark.utterance);
      }
    }
    return i;
  }
}
