// @ts-check
/**
 * The browser client's side of presentation times: the relay clock estimated from clock pings on the listen socket
 * (the agent's estimator, shared/clock-estimator.js), and the map from it to the AudioContext's output clock that the
 * worklet holds each stretch of audio to. Used by client.js.
 */
import { ClockEstimator, EPOCH_ORIGIN, localClock, median, nextPingDelay } from '../../../shared/clock-estimator.js';

/** How often the worklet's clock map (relay clock ↔ context time) is refreshed, and how many output timestamps it smooths. */
const CLOCK_MAP_EVERY_MS = 250;
const CLOCK_MAP_READINGS = 15;

/**
 * The context time now coming out of the speakers: output latency included where the browser reports it.
 * @param {AudioContext} context
 */
export function heardTime(context) {
  const stamp = context.getOutputTimestamp?.();
  if (stamp?.contextTime !== undefined && stamp.performanceTime !== undefined && stamp.performanceTime > 0) {
    return stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
  }
  return context.currentTime - (context.outputLatency || context.baseLatency || 0);
}

/**
 * Seconds into its utterance heard now, by a worklet position report; null unless playing (or held for its time).
 * @param {import('./worklet.js').PositionReport} position @param {number} rate the wire rate @param {AudioContext} context
 */
export function heardSeconds(position, rate, context) {
  const held = position.state === 'waiting';
  if ((position.state !== 'playing' && !held) || position.sample === null) return null;
  // Held for its presentation time (an explicit gap): what came before the head is heard, the head is not yet.
  return held ? (position.sample - 1) / rate : (position.sample + (heardTime(context) - position.time) * rate) / rate;
}

export class PresentationClock {
  /** @param {(map: { relay: number, context: number }) => void} post sends each clock map to the worklet */
  constructor(post) {
    this.post = post;
    this.estimator = new ClockEstimator();
    /** Recent (output clock − performance clock) readings, ms: their median pairs the two clocks. @type {number[]} */
    this.outputReadings = [];
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pinger = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.mapper = undefined;
    /** @type {AudioContext | null} */
    this.context = null;
  }

  /** The relay clock estimate: offset and uncertainty (ms), null before the first pong. */
  estimate() {
    return this.estimator.estimate();
  }

  /** Starts pinging the relay over `socket` (a burst, then steadily) and mapping its clock onto `context`. @param {WebSocket} socket @param {AudioContext} context */
  start(socket, context) {
    this.stop();
    this.estimator.reset();
    this.outputReadings = [];
    this.context = context;
    let sent = 0;
    const ping = () => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: 'clock_ping', id: sent, t0: localClock() }));
      this.pinger = setTimeout(ping, nextPingDelay(sent++));
    };
    ping();
    this.mapper = setInterval(() => this.map(), CLOCK_MAP_EVERY_MS);
  }

  stop() {
    clearTimeout(this.pinger);
    clearInterval(this.mapper);
  }

  /** @param {{ t0: number, t1: number, t2: number }} pong */
  pong(pong) {
    this.estimator.add({ t0: pong.t0, t1: pong.t1, t2: pong.t2, t3: localClock() });
    this.map();
  }

  /**
   * Tells the worklet which context time is heard at which relay time. getOutputTimestamp pairs the context time
   * leaving the speakers with the performance clock; its pairing jitters with the audio callback, so the median of
   * recent readings is used. Where it is missing, currentTime less the output latency stands in.
   */
  map() {
    const context = this.context;
    const offset = this.estimator.estimate()?.offsetMs;
    if (!context || offset === undefined) return;
    const stamp = context.getOutputTimestamp?.();
    const usable = stamp?.contextTime !== undefined && stamp.performanceTime !== undefined && stamp.performanceTime > 0;
    const contextTime = usable ? /** @type {number} */ (stamp.contextTime) : context.currentTime - (context.outputLatency || context.baseLatency || 0);
    const performanceTime = usable ? /** @type {number} */ (stamp.performanceTime) : performance.now();
    this.outputReadings.push(contextTime * 1000 - performanceTime);
    if (this.outputReadings.length > CLOCK_MAP_READINGS) this.outputReadings.shift();
    const paired = median([...this.outputReadings].sort((a, b) => a - b));
    this.post({ relay: EPOCH_ORIGIN + contextTime * 1000 - paired + offset, context: contextTime });
  }
}
