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
 * Played as it comes (no presentation times): playback starts once `targetFrames` are buffered; an underrun (the ring
 * ran dry with more of the stream to come) doubles that target, and clean playback eases it back.
 * In step: each stretch is held until due (silence before it and in explicit gaps), a stretch that comes late is
 * skipped ahead to where it should be (counted in `late`), and a small drift (the sound card's clock against the
 * relay's) is corrected one frame per render quantum at most (0.8 %, no click). There the relay's sync delay is the
 * jitter buffer, the same for every listener: a local one would play later than the presentation time, out of step.
 * So the target does not apply (reported as null); an underrun is the ring running dry while the audio that follows
 * was due, i.e. it came after its time, and is answered by the late skip; a dry ring before an early stretch (an
 * explicit gap in the relay's timeline) is none.
 * Messages out: {type:'position', ...}  every REPORT_FRAMES rendered frames (PositionReport below)
 *               {type:'played', utterance, frames, seconds, skippedSeconds, complete}  when an utterance's audio has all been rendered
 *               {type:'underrun', targetMs}  targetMs: the grown target, null in step
 * The ring itself (resampling, marks that credit each frame to its utterance) is worklet-ring.js.
 */
import { ResamplingRing } from './worklet-ring.js';

/**
 * @typedef {{ type: 'position', time: number, utterance: number | null, sample: number | null,
 *   state: 'idle' | 'buffering' | 'playing' | 'waiting', bufferedMs: number, targetMs: number | null, underruns: number,
 *   peak: number, rms: number, dropped: number, renderedSeconds: number, late: number, skippedSeconds: number,
 *   errorMs: number | null }} PositionReport
 *   Source sample `sample` of `utterance` renders at context time `time`; in step, `errorMs` is how late the head
 *   was against its presentation time when last measured, `late` how many late stretches were skipped. `targetMs` is
 *   the jitter buffer's target, null in step (where it does not apply).
 */

/** Seconds of audio the ring holds: above the relay's playout lead (1.5 s) with room for a burst after a stall. */
const CAPACITY_SECONDS = 8;
/** Off step: audio needed before playback starts; doubled after each underrun, up to MAX, eased back while playback is clean. */
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

class RelayPlayerProcessor extends scope.AudioWorkletProcessor {
  constructor() {
    super();
    this.ring = new ResamplingRing(Math.ceil(CAPACITY_SECONDS * sampleRate), sampleRate);
    /** @type {Map<number, number>} frames rendered per utterance */
    this.renderedFrames = new Map();
    /** @type {Map<number, number>} frames skipped (late) per utterance */
    this.skippedFrames = new Map();
    /** The last frame rendered, repeated when playback must wait one frame (drift correction). */
    this.last = 0;
    this.state = /** @type {'idle' | 'buffering' | 'playing'} */ ('idle');
    this.targetFrames = Math.round((MIN_TARGET_MS / 1000) * sampleRate);
    this.cleanFrames = 0;
    this.underruns = 0;
    this.volume = 1;
    this.sinceReport = 0;
    this.peak = 0;
    this.sumSquares = 0;
    this.levelFrames = 0;
    this.renderedTotal = 0;
    this.inStep = false;
    /** This quantum held the head back whole (before its presentation time). */
    this.waiting = false;
    /** In step, the ring ran dry mid-utterance: the next audio tells an underrun (it comes late) from a gap (early). */
    this.dry = false;
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
    if (message.type === 'audio') this.ring.write(message.samples, message.rate, message.utterance, message.offset);
    else if (message.type === 'end') this.end(message.utterance);
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

  /** An utterance's last audio has arrived; if it has all been taken already, it is finished now. @param {number} utterance */
  end(utterance) {
    this.ring.end(utterance);
    if (!this.ring.marks.some((mark) => mark.utterance === utterance)) this.finish(utterance, true);
  }

  flush() {
    for (const utterance of this.ring.flush()) this.finish(utterance, false);
    this.state = 'idle';
    this.dry = false;
  }

  /** @param {number} utterance @param {boolean} complete */
  finish(utterance, complete) {
    const frames = this.renderedFrames.get(utterance);
    if (frames === undefined) return;
    this.renderedFrames.delete(utterance);
    const skipped = this.skippedFrames.get(utterance) ?? 0;
    this.skippedFrames.delete(utterance);
    this.ring.ended.delete(utterance);
    this.timings.delete(utterance);
    this.port.postMessage({ type: 'played', utterance, frames, seconds: frames / sampleRate, skippedSeconds: skipped / sampleRate, complete });
  }

  /** @param {Float32Array[][]} _inputs @param {Float32Array[][]} outputs */
  process(_inputs, outputs) {
    const output = /** @type {Float32Array[]} */ (outputs[0]);
    const channel = /** @type {Float32Array} */ (output[0]);
    const frames = channel.length;
    let start = 0;
    this.waiting = false;
    const ring = this.ring;
    const wait = ring.buffered > 0 ? this.framesUntilDue() : null;
    if (wait === 'hold') [start, this.waiting] = [frames, true];
    else if (wait !== null) start = this.keepStep(wait, frames);
    else if (this.state !== 'playing' && ring.buffered > 0 && (ring.buffered >= this.targetFrames || ring.drained())) this.state = 'playing';
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
    const dry = this.dry;
    this.dry = false;
    if (wait > (starting ? 0 : jump)) {
      // Early: silence until due (before an utterance, or an explicit gap in the relay's timeline). Held past this
      // quantum, it starts afresh on its frame later (playing, a wait within JUMP would be nudged a frame at a time).
      this.waiting = wait >= frames;
      this.state = this.waiting ? 'buffering' : 'playing';
      return Math.min(frames, wait);
    }
    this.state = 'playing';
    if (-wait > (starting ? 0 : jump)) {
      // Late (it arrived after its time, or playback fell behind): skip to where the relay is.
      this.late++;
      if (dry) this.underrun(false);
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
    const head = this.ring.head();
    if (!this.inStep || !head) return null;
    let timing = null;
    for (const t of this.timings.get(head.mark.utterance) ?? []) if (t.sample <= head.sample + 0.5) timing = t;
    if (!timing || !this.clock) return this.ring.buffered < HOLD_SECONDS * sampleRate ? 'hold' : null;
    const due = this.clock.context + (timing.at - this.clock.relay) / 1000 + (head.sample - timing.sample) / (head.mark.step * sampleRate);
    return Math.round((due - scope.currentTime) * sampleRate);
  }

  /** Drops `count` buffered frames unheard (late audio), finishing utterances passed over. @param {number} count */
  skip(count) {
    const frames = Math.min(count, this.ring.buffered);
    this.skipped += frames;
    this.ring.take(frames, null, (utterance, n) => this.credit(this.skippedFrames, utterance, n), (utterance) => this.finish(utterance, true));
  }

  /** Copies up to `frames` buffered frames into `channel`, crediting each to its utterance. @param {Float32Array} channel @param {number} frames */
  render(channel, frames) {
    const i = this.ring.take(frames, channel, (utterance, n) => this.credit(this.renderedFrames, utterance, n), (utterance) => this.finish(utterance, true));
    for (let k = 0; k < i; k++) {
      const sample = /** @type {number} */ (channel[k]) * this.volume;
      channel[k] = sample;
      if (Math.abs(sample) > this.peak) this.peak = Math.abs(sample);
      this.sumSquares += sample * sample;
    }
    this.levelFrames += i;
    if (i > 0) this.last = /** @type {number} */ (channel[i - 1]);
    this.cleanFrames += i;
    this.renderedTotal += i;
    if (this.cleanFrames >= SHRINK_AFTER_SECONDS * sampleRate) {
      this.cleanFrames = 0;
      this.targetFrames = Math.max(Math.round((MIN_TARGET_MS / 1000) * sampleRate), Math.round(this.targetFrames * SHRINK_FACTOR));
    }
    return i;
  }

  /**
   * Counts `count` frames of `utterance` rendered or skipped; an utterance taken from at all has a rendered count
   * (possibly 0), which is what finish() reports. @param {Map<number, number>} counts @param {number} utterance @param {number} count
   */
  credit(counts, utterance, count) {
    counts.set(utterance, (counts.get(utterance) ?? 0) + count);
    if (!this.renderedFrames.has(utterance)) this.renderedFrames.set(utterance, 0);
  }

  /** The buffer emptied while playing: the end of the stream's audio, an underrun if more was due (in step: known later). */
  ranDry() {
    if (this.ring.drained()) {
      this.state = 'idle';
      return;
    }
    this.state = 'buffering';
    this.cleanFrames = 0;
    if (this.inStep) this.dry = true;
    else this.underrun(true);
  }

  /** Counts an underrun; off step the target grows so that the next one comes later. @param {boolean} grow */
  underrun(grow) {
    this.underruns++;
    if (grow) this.targetFrames = Math.min(Math.round((MAX_TARGET_MS / 1000) * sampleRate), this.targetFrames * 2);
    this.port.postMessage({ type: 'underrun', targetMs: this.targetMs() });
  }

  /** The jitter buffer's target in ms; null in step, where it does not apply. */
  targetMs() {
    return this.inStep ? null : (this.targetFrames / sampleRate) * 1000;
  }

  /** @param {number} frames the quantum just rendered */
  report(frames) {
    const head = this.ring.head();
    this.port.postMessage({
      type: 'position',
      // currentTime is this quantum's start: the next frame to render (source sample `sample`) renders at `time`.
      time: scope.currentTime + frames / sampleRate,
      utterance: head ? head.mark.utterance : null,
      sample: head ? head.sample : null,
      // 'waiting': the head is held for its presentation time, so `sample` is not rendered at `time` yet.
      state: this.waiting ? 'waiting' : this.state,
      bufferedMs: (this.ring.buffered / sampleRate) * 1000,
      targetMs: this.targetMs(),
      underruns: this.underruns,
      peak: this.peak,
      rms: this.levelFrames > 0 ? Math.sqrt(this.sumSquares / this.levelFrames) : 0,
      dropped: this.ring.dropped,
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
