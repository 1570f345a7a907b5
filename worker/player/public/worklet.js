// @ts-check
/**
 * The player's AudioWorklet: a ring-buffer jitter buffer that resamples the relay's audio to the context rate and
 * renders it gaplessly. No SharedArrayBuffer: audio arrives by postMessage (transferred, not copied), so the page
 * needs no cross-origin isolation.
 *
 * Messages in:  {type:'audio', samples:Float32Array, rate, utterance, offset}  {type:'end', utterance}
 *               {type:'flush'}  {type:'volume', value}
 * Messages out: {type:'position', ...}  every REPORT_FRAMES rendered frames (see PositionReport in client.js)
 *               {type:'played', utterance, frames, seconds, complete}  when an utterance's audio has all been rendered
 *               {type:'underrun', targetMs}
 */

/** Seconds of audio the ring holds: above the relay's playout lead (1.5 s) with room for a burst after a stall. */
const CAPACITY_SECONDS = 8;
/** Audio needed before playback starts; doubled after each underrun, up to MAX, and eased back while playback is clean. */
const MIN_TARGET_MS = 60;
const MAX_TARGET_MS = 1000;
/** Clean playback after which the target shrinks by SHRINK_FACTOR. */
const SHRINK_AFTER_SECONDS = 5;
const SHRINK_FACTOR = 0.75;
/** About 10 ms at 48 kHz: fine enough for word highlighting, few enough messages for the main thread. */
const REPORT_FRAMES = 512;

/** @type {import('../audio-worklet-scope.d.ts').AudioWorkletScope} */
const scope = /** @type {any} */ (globalThis);
const { sampleRate } = scope;

/**
 * @typedef {{ utterance: number, offset: number, start: number, end: number, step: number }} Mark
 * One written chunk: source samples from `offset` of `utterance`, at ring frames [start, end) (absolute counts),
 * `step` source samples per rendered frame.
 */

class RelayPlayerProcessor extends scope.AudioWorkletProcessor {
  constructor() {
    super();
    this.ring = new Float32Array(Math.ceil(CAPACITY_SECONDS * sampleRate));
    /** Absolute frame counts: written - read is what is buffered. */
    this.written = 0;
    this.read = 0;
    /** @type {Mark[]} */
    this.marks = [];
    /** @type {Set<number>} utterances whose last audio has arrived */
    this.ended = new Set();
    /** @type {Map<number, number>} frames rendered per utterance */
    this.renderedFrames = new Map();
    // position 1 is input[0]; position 0 is the previous chunk's last sample, so chunks join without a seam.
    this.resampler = { rate: 0, utterance: -1, position: 1, last: 0 };
    this.state = /** @type {'idle' | 'buffering' | 'playing'} */ ('idle');
    this.targetFrames = Math.round((MIN_TARGET_MS / 1000) * sampleRate);
    this.cleanFrames = 0;
    this.underruns = 0;
    this.volume = 1;
    this.sinceReport = 0;
    this.peak = 0;
    this.sumSquares = 0;
    this.levelFrames = 0;
    this.dropped = 0;
    this.renderedTotal = 0;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  /** @param {any} message */
  receive(message) {
    if (message.type === 'audio') this.write(message.samples, message.rate, message.utterance, message.offset);
    else if (message.type === 'end') this.ended.add(message.utterance);
    else if (message.type === 'flush') this.flush();
    else if (message.type === 'volume') this.volume = Math.max(0, Math.min(4, Number(message.value) || 0));
  }

  /**
   * Linear resampling from `rate` to the context rate, continuous across chunks of one utterance (and across
   * utterances of one rate), so chunk edges add no click.
   * @param {Float32Array} input @param {number} rate @param {number} utterance @param {number} offset
   */
  write(input, rate, utterance, offset) {
    const r = this.resampler;
    if (r.rate !== rate) Object.assign(r, { rate, position: 1, last: 0 });
    if (r.utterance !== utterance && r.utterance >= 0) this.ended.add(r.utterance);
    r.utterance = utterance;
    const step = rate / sampleRate;
    const capacity = this.ring.length;
    const start = this.written;
    // Output frame k of this chunk sits at source position (r.position + k * step) - 1 relative to input[0].
    const first = r.position;
    let position = first;
    const n = input.length;
    while (position <= n - 1 + 1e-9) {
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
    if (this.written > start) {
      // The chunk's first rendered frame is source sample `offset + first - 1` (position 0 is the previous chunk's last sample).
      this.marks.push({ utterance, offset: offset + first - 1, start, end: this.written, step });
    }
  }

  flush() {
    for (const mark of this.marks) this.finish(mark.utterance, false);
    this.marks = [];
    this.read = this.written;
    this.resampler.position = 1;
    this.resampler.last = 0;
    this.state = 'idle';
  }

  /** @param {number} utterance @param {boolean} complete */
  finish(utterance, complete) {
    const frames = this.renderedFrames.get(utterance);
    if (frames === undefined) return;
    this.renderedFrames.delete(utterance);
    this.ended.delete(utterance);
    this.port.postMessage({ type: 'played', utterance, frames, seconds: frames / sampleRate, complete });
  }

  /** @returns {boolean} whether the audio buffered so far is all there is (the stream has nothing open) */
  drained() {
    const last = this.marks[this.marks.length - 1];
    return last === undefined || this.ended.has(last.utterance);
  }

  /** @param {Float32Array[][]} _inputs @param {Float32Array[][]} outputs */
  process(_inputs, outputs) {
    const output = /** @type {Float32Array[]} */ (outputs[0]);
    const channel = /** @type {Float32Array} */ (output[0]);
    const frames = channel.length;
    const buffered = this.written - this.read;
    if (this.state !== 'playing' && buffered > 0 && (buffered >= this.targetFrames || this.drained())) this.state = 'playing';
    let rendered = 0;
    if (this.state === 'playing') rendered = this.render(channel, frames);
    for (let i = rendered; i < frames; i++) channel[i] = 0;
    for (let c = 1; c < output.length; c++) /** @type {Float32Array} */ (output[c]).set(channel);
    if (rendered < frames && this.state === 'playing') this.ranDry();
    this.sinceReport += frames;
    if (this.sinceReport >= REPORT_FRAMES) this.report(frames);
    return true;
  }

  /** Copies up to `frames` buffered frames into `channel`, crediting each to its utterance. @param {Float32Array} channel @param {number} frames */
  render(channel, frames) {
    const capacity = this.ring.length;
    let i = 0;
    while (i < frames && this.read < this.written) {
      const mark = /** @type {Mark} */ (this.marks[0]);
      const count = Math.min(frames - i, mark.end - this.read);
      for (let k = 0; k < count; k++) {
        const sample = /** @type {number} */ (this.ring[(this.read + k) % capacity]) * this.volume;
        channel[i + k] = sample;
        const magnitude = Math.abs(sample);
        if (magnitude > this.peak) this.peak = magnitude;
        this.sumSquares += sample * sample;
      }
      this.levelFrames += count;
      this.renderedFrames.set(mark.utterance, (this.renderedFrames.get(mark.utterance) ?? 0) + count);
      this.read += count;
      i += count;
      if (this.read === mark.end) {
        this.marks.shift();
        const next = this.marks[0];
        if (next?.utterance !== mark.utterance && (next !== undefined || this.ended.has(mark.utterance))) this.finish(mark.utterance, true);
      }
    }
    this.cleanFrames += i;
    this.renderedTotal += i;
    if (this.cleanFrames >= SHRINK_AFTER_SECONDS * sampleRate) {
      this.cleanFrames = 0;
      this.targetFrames = Math.max(Math.round((MIN_TARGET_MS / 1000) * sampleRate), Math.round(this.targetFrames * SHRINK_FACTOR));
    }
    return i;
  }

  /** The buffer emptied while playing: the end of the stream's audio, or an underrun if more was due. */
  ranDry() {
    if (this.drained()) {
      this.state = 'idle';
      return;
    }
    this.state = 'buffering';
    this.underruns++;
    this.cleanFrames = 0;
    this.targetFrames = Math.min(Math.round((MAX_TARGET_MS / 1000) * sampleRate), this.targetFrames * 2);
    this.port.postMessage({ type: 'underrun', targetMs: (this.targetFrames / sampleRate) * 1000 });
  }

  /** @param {number} frames the quantum just rendered */
  report(frames) {
    const mark = this.marks[0];
    this.port.postMessage({
      type: 'position',
      // currentTime is this quantum's start: the next frame to render (source sample `sample`) renders at `time`.
      time: scope.currentTime + frames / sampleRate,
      utterance: mark ? mark.utterance : null,
      sample: mark ? mark.offset + (this.read - mark.start) * mark.step : null,
      state: this.state,
      bufferedMs: ((this.written - this.read) / sampleRate) * 1000,
      targetMs: (this.targetFrames / sampleRate) * 1000,
      underruns: this.underruns,
      peak: this.peak,
      rms: this.levelFrames > 0 ? Math.sqrt(this.sumSquares / this.levelFrames) : 0,
      dropped: this.dropped,
      renderedSeconds: this.renderedTotal / sampleRate,
    });
    this.sinceReport = 0;
    this.peak = 0;
    this.sumSquares = 0;
    this.levelFrames = 0;
  }
}

scope.registerProcessor('relay-player', RelayPlayerProcessor);
