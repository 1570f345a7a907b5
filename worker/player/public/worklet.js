// @ts-check
/**
 * The player's AudioWorklet: a ring-buffer jitter buffer that resamples the relay's audio to the context rate and
 * renders it gaplessly. No SharedArrayBuffer: audio arrives by postMessage (transferred, not copied), so the page
 * needs no cross-origin isolation.
 *
 * Messages in:  {type:'audio', samples:Float32Array, rate, utterance, offset}  {type:'end', utterance}
 *               {type:'flush'}  {type:'volume', value}
 *               {type:'sync', on}  whether presentation times rule (the relay keeps them); then every utterance waits
 *                 for its {type:'timing', utterance, sample, at} (relay clock ms) and the clock map
 *                 {type:'clock', relay, context}: a frame rendered at context time `context` is heard at relay `relay`.
 *
 * In step: each stretch is held until due (silence before it and in explicit gaps), a stretch that comes late is
 * skipped ahead to where it should be (counted in `late`), and a small drift (the sound card's clock against the
 * relay's) is corrected one frame per render quantum at most (0.8 %, no click).
 * Messages out: {type:'position', ...}  every REPORT_FRAMES rendered frames (see PositionReport in client.js)
 *               {type:'played', utterance, frames, seconds, skippedSeconds, complete}  when an utterance's audio has all been rendered
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
/** In step: errors within DEADBAND are left alone; up to JUMP corrected a frame at a time; beyond it, skipped or held. */
const DEADBAND_SECONDS = 0.001;
const JUMP_SECONDS = 0.02;
/** In step but no timing or clock map yet: hold this much audio at most, then play on the buffer's depth. */
const HOLD_SECONDS = 1;

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
    /** @type {Map<number, number>} frames skipped (late) per utterance */
    this.skippedFrames = new Map();
    /** The last frame rendered, repeated when playback must wait one frame (drift correction). */
    this.last = 0;
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
    this.inStep = false;
    /** This quantum held the head back whole (before its presentation time). */
    this.waiting = false;
    /** @type {{ relay: number, context: number } | null} */
    this.clock = null;
    /** @type {Map<number, Array<{ sample: number, at: number }>>} presentation times by utterance, in arrival order */
    this.timings = new Map();
    this.late = 0;
    this.skipped = 0;
    /** Last measured error of the head against its presentation time, ms (positive: late); null when not in step. */
    this.errorMs = /** @type {number | null} */ (null);
    this.port.onmessage = (event) => this.receive(event.data);
  }

  /** @param {any} message */
  receive(message) {
    if (message.type === 'audio') this.write(message.samples, message.rate, message.utterance, message.offset);
    else if (message.type === 'end') this.ended.add(message.utterance);
    else if (message.type === 'flush') this.flush();
    else if (message.type === 'volume') this.volume = Math.max(0, Math.min(4, Number(message.value) || 0));
    else if (message.type === 'sync') this.inStep = Boolean(message.on);
    else if (message.type === 'clock') this.clock = { relay: message.relay, context: message.context };
    else if (message.type === 'timing') {
      const list = this.timings.get(message.utterance) ?? [];
      list.push({ sample: message.sample, at: message.at });
      this.timings.set(message.utterance, list);
    }
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
    const skipped = this.skippedFrames.get(utterance) ?? 0;
    this.skippedFrames.delete(utterance);
    this.ended.delete(utterance);
    this.timings.delete(utterance);
    this.port.postMessage({ type: 'played', utterance, frames, seconds: frames / sampleRate, skippedSeconds: skipped / sampleRate, complete });
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
    let start = 0;
    this.waiting = false;
    const wait = this.written > this.read ? this.framesUntilDue() : null;
    if (wait === 'hold') [start, this.waiting] = [frames, true];
    else if (wait !== null) start = this.keepStep(wait, frames);
    else if (this.state !== 'playing' && this.written > this.read && (this.written - this.read >= this.targetFrames || this.drained())) this.state = 'playing';
    // One frame of waiting while playing is drift correction: the last frame again, not a click of silence.
    channel.fill(start === 1 && this.state === 'playing' ? this.last : 0, 0, start);
    let rendered = start;
    if (this.state === 'playing' && start < frames) rendered = start + this.render(channel.subarray(start), frames - start);
    channel.fill(0, rendered);
    for (let c = 1; c < output.length; c++) /** @type {Float32Array} */ (output[c]).set(channel);
    if (rendered < frames && this.state === 'playing' && start < frames) this.ranDry();
    this.sinceReport += frames;
    if (this.sinceReport >= REPORT_FRAMES) this.report(frames);
    return true;
  }

  /**
   * The head is due `wait` frames after this quantum's start: starts, holds, skips ahead or nudges playback so it is
   * rendered then. Returns how many frames of silence open the quantum.
   * @param {number} wait @param {number} frames
   */
  keepStep(wait, frames) {
    this.errorMs = (-wait / sampleRate) * 1000;
    const jump = JUMP_SECONDS * sampleRate;
    const starting = this.state !== 'playing';
    if (wait > (starting ? 0 : jump)) {
      // Early: silence until due (before an utterance, or an explicit gap in the relay's timeline).
      this.state = 'playing';
      this.waiting = wait >= frames;
      return Math.min(frames, wait);
    }
    this.state = 'playing';
    if (-wait > (starting ? 0 : jump)) {
      // Late (it arrived after its time, or playback fell behind): skip to where the relay is.
      this.late++;
      this.skip(-wait);
    } else if (-wait > DEADBAND_SECONDS * sampleRate) this.skip(1);
    else if (wait > DEADBAND_SECONDS * sampleRate) return 1;
    return 0;
  }

  /**
   * Frames from this quantum's start until the head of the buffer is due, by the latest presentation time its
   * utterance has reached; 'hold' while in step and its time or the clock is still to come; null to play on depth.
   * @returns {number | 'hold' | null}
   */
  framesUntilDue() {
    const mark = this.marks[0];
    if (!this.inStep || !mark) return null;
    const head = mark.offset + (this.read - mark.start) * mark.step;
    let timing = null;
    for (const t of this.timings.get(mark.utterance) ?? []) if (t.sample <= head + 0.5) timing = t;
    if (!timing || !this.clock) return this.written - this.read < HOLD_SECONDS * sampleRate ? 'hold' : null;
    const due = this.clock.context + (timing.at - this.clock.relay) / 1000 + (head - timing.sample) / (mark.step * sampleRate);
    return Math.round((due - scope.currentTime) * sampleRate);
  }

  /** Drops `count` buffered frames unheard (late audio), finishing utterances passed over. @param {number} count */
  skip(count) {
    const frames = Math.min(count, this.written - this.read);
    this.skipped += frames;
    this.consume(frames, null);
  }

  /** Copies up to `frames` buffered frames into `channel`, crediting each to its utterance. @param {Float32Array} channel @param {number} frames */
  render(channel, frames) {
    const i = this.consume(frames, channel);
    this.cleanFrames += i;
    this.renderedTotal += i;
    if (this.cleanFrames >= SHRINK_AFTER_SECONDS * sampleRate) {
      this.cleanFrames = 0;
      this.targetFrames = Math.max(Math.round((MIN_TARGET_MS / 1000) * sampleRate), Math.round(this.targetFrames * SHRINK_FACTOR));
    }
    return i;
  }

  /**
   * Takes up to `frames` buffered frames: into `channel` (rendered, credited to their utterance) or, with none,
   * dropped unheard. Finishes each utterance whose audio is all taken. @param {number} frames @param {Float32Array | null} channel
   */
  consume(frames, channel) {
    const capacity = this.ring.length;
    let i = 0;
    while (i < frames && this.read < this.written) {
      const mark = /** @type {Mark} */ (this.marks[0]);
      const count = Math.min(frames - i, mark.end - this.read);
      for (let k = 0; channel && k < count; k++) {
        const sample = /** @type {number} */ (this.ring[(this.read + k) % capacity]) * this.volume;
        channel[i + k] = sample;
        const magnitude = Math.abs(sample);
        if (magnitude > this.peak) this.peak = magnitude;
        this.sumSquares += sample * sample;
      }
      if (channel) this.levelFrames += count;
      const counts = channel ? this.renderedFrames : this.skippedFrames;
      counts.set(mark.utterance, (counts.get(mark.utterance) ?? 0) + count);
      if (!this.renderedFrames.has(mark.utterance)) this.renderedFrames.set(mark.utterance, 0);
      this.read += count;
      i += count;
      if (this.read === mark.end) {
        this.marks.shift();
        const next = this.marks[0];
        if (next?.utterance !== mark.utterance && (next !== undefined || this.ended.has(mark.utterance))) this.finish(mark.utterance, true);
      }
    }
    if (channel && i > 0) this.last = /** @type {number} */ (channel[i - 1]);
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
      // 'waiting': the head is held for its presentation time, so `sample` is not rendered at `time` yet.
      state: this.waiting ? 'waiting' : this.state,
      bufferedMs: ((this.written - this.read) / sampleRate) * 1000,
      targetMs: (this.targetFrames / sampleRate) * 1000,
      underruns: this.underruns,
      peak: this.peak,
      rms: this.levelFrames > 0 ? Math.sqrt(this.sumSquares / this.levelFrames) : 0,
      dropped: this.dropped,
      renderedSeconds: this.renderedTotal / sampleRate,
      late: this.late,
      skippedSeconds: this.skipped / sampleRate,
      errorMs: this.errorMs,
    });
    this.sinceReport = 0;
    this.peak = 0;
    this.sumSquares = 0;
    this.levelFrames = 0;
  }
}

scope.registerProcessor('relay-player', RelayPlayerProcessor);
