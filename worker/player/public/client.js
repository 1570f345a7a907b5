// @ts-check
/**
 * The relay's browser client: `connect({url, stream, token})` listens to a stream, plays it through an AudioWorklet
 * jitter buffer, and tells what is heard, word by word. Plain ES module, no build step; types come from shared/.
 */

/**
 * @typedef {import('../../../shared/protocol.ts').ListenerMessage} ListenerMessage
 * @typedef {import('../../../shared/protocol.ts').Hello} Hello
 * @typedef {import('../../../shared/protocol.ts').WordTimestamp} WordTimestamp
 * @typedef {import('../../../shared/protocol.ts').ErrorInfo} ErrorInfo
 * @typedef {import('../../../shared/api.ts').StreamStatus} StreamStatus
 * @typedef {'connecting' | 'open' | 'reconnecting' | 'refused' | 'closed'} ConnectionState
 * @typedef {{ type: 'position', time: number, utterance: number | null, sample: number | null,
 *   state: 'idle' | 'buffering' | 'playing' | 'waiting', bufferedMs: number, targetMs: number, underruns: number,
 *   peak: number, rms: number, dropped: number, renderedSeconds: number, late: number, skippedSeconds: number,
 *   errorMs: number | null }} PositionReport
 *   From the worklet: source sample `sample` of `utterance` renders at context time `time`; in step, `errorMs` is
 *   how late the head was against its presentation time when last measured, `late` how many late stretches were skipped.
 * @typedef {{ utterance: number, index: number, word: string, start: number, end: number }} WordEvent
 * @typedef {{ utterance: number, frames: number, seconds: number, skippedSeconds: number, complete: boolean }} PlayedEvent
 */

import { ClockEstimator, localClock, median, nextPingDelay } from '../../../shared/clock-estimator.js';

// The wire constants of shared/protocol.ts, which imports zod and so cannot load here (a test pins them equal).
export const RELAY_SUBPROTOCOL = 'tts-relay';
export const TOKEN_SUBPROTOCOL_PREFIX = 'tts-relay.token.';
export const AUDIO_HEADER_BYTES = 12;
export const SAMPLE_RATES = [8000, 16000, 22050, 24000, 44100, 48000];
export const PLAYED_REPORT_INTERVAL_MS = 250;
/** Close codes after which reconnecting cannot help (shared/errors.ts: 4400 bad request, 4401 credentials, 4403 forbidden). */
const FINAL_CLOSE_CODES = [4400, 4401, 4403];

const RECONNECT_MIN_MS = 250;
/** How often the worklet's clock map (relay clock ↔ context time) is refreshed, and how many output timestamps it smooths. */
const CLOCK_MAP_EVERY_MS = 250;
const CLOCK_MAP_READINGS = 15;

/** A stream's routes on the relay: `/v1/streams/<name>` with each path segment escaped (names may hold slashes). @param {string} stream */
export function streamPath(stream) {
  return `/v1/streams/${stream.split('/').map(encodeURIComponent).join('/')}`;
}
const RECONNECT_MAX_MS = 5000;

/**
 * @typedef {object} ConnectOptions
 * @property {string} url the relay's base URL, e.g. `https://relay.example` (http and ws schemes both work)
 * @property {string} stream
 * @property {string} token a scoped token with `listen` (admin keys are refused outside headers)
 * @property {AudioContext} [context] one to play into; by default one is made (call connect from a user gesture)
 * @property {number} [sampleRate] the wire rate to ask for; by default the context's when the relay offers it
 * @property {number} [volume] gain, 1 by default
 * @property {boolean} [reconnect] true by default
 */

/** Opens a player and starts listening. Call it from a click or key handler: browsers start audio only after a gesture. */
export async function connect(/** @type {ConnectOptions} */ options) {
  const player = new RelayPlayer(options);
  await player.start();
  return player;
}

/**
 * Events (CustomEvent, payload in `detail`): `state` (ConnectionState), `hello` (Hello), `utterancestart`,
 * `timestamps`, `utteranceend` (the relay's messages), `word` (WordEvent, when a word starts being heard),
 * `played` (PlayedEvent, when an utterance's audio has all been rendered), `position` (PositionReport),
 * `underrun`, `error` (ErrorInfo).
 */
export class RelayPlayer extends EventTarget {
  /** @param {ConnectOptions} options */
  constructor(options) {
    super();
    this.options = { reconnect: true, volume: 1, ...options };
    /** @type {ConnectionState} */
    this.state = 'connecting';
    /** @type {AudioContext | null} */
    this.context = options.context ?? null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {Hello | null} */
    this.hello = null;
    /** @type {Map<number, WordTimestamp[]>} */
    this.words = new Map();
    /** @type {{ utterance: number, index: number } | null} */
    this.currentWord = null;
    /** @type {PositionReport | null} */
    this.lastPosition = null;
    this.attempt = 0;
    this.closed = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.watchdog = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retry = undefined;
    this.lastReportAt = 0;
    /** The relay clock, estimated NTP-style (the agent's estimator, shared/clock-estimator.js). */
    this.clock = new ClockEstimator();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pinger = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.mapper = undefined;
    /** Recent (output clock − performance clock) readings, ms: their median pairs the two clocks. @type {number[]} */
    this.outputReadings = [];
  }

  /** The relay clock estimate (null before the first pong) and how playback keeps to its presentation times. */
  get sync() {
    const p = this.lastPosition;
    return { clock: this.clock.estimate(), errorMs: p?.errorMs ?? null, late: p?.late ?? 0, skippedSeconds: p?.skippedSeconds ?? 0 };
  }

  async start() {
    const context = this.context ?? new AudioContext({ latencyHint: 'interactive' });
    this.context = context;
    await context.resume();
    await context.audioWorklet.addModule(new URL('./worklet.js', import.meta.url));
    this.node = new AudioWorkletNode(context, 'relay-player', { numberOfInputs: 0, outputChannelCount: [1] });
    this.node.port.onmessage = (event) => this.fromWorklet(event.data);
    this.node.connect(context.destination);
    this.volume = this.options.volume;
    this.open();
  }

  /** Gain applied in the worklet (0 to 4). */
  set volume(value) {
    this.options.volume = value;
    this.node?.port.postMessage({ type: 'volume', value });
  }

  get volume() {
    return this.options.volume;
  }

  /** Drops everything buffered at once (the relay's own cancel arrives as `utteranceend` and flushes too). */
  cancel() {
    this.node?.port.postMessage({ type: 'flush' });
  }

  /** Seconds of audio rendered so far, underruns, buffer depth and level, from the latest worklet report. */
  get stats() {
    const p = this.lastPosition;
    return {
      secondsHeard: p?.renderedSeconds ?? 0,
      underruns: p?.underruns ?? 0,
      bufferedMs: p?.bufferedMs ?? 0,
      targetMs: p?.targetMs ?? 0,
      peak: p?.peak ?? 0,
      rms: p?.rms ?? 0,
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearTimeout(this.watchdog);
    this.stopClockSync();
    this.socket?.close(1000);
    this.node?.disconnect();
    if (!this.options.context) this.context?.close().catch(() => {});
    this.setState('closed');
  }

  open() {
    const { url, stream, token } = this.options;
    const listen = new URL(`${streamPath(stream)}/listen`, url);
    listen.protocol = listen.protocol === 'https:' || listen.protocol === 'wss:' ? 'wss:' : 'ws:';
    listen.searchParams.set('encoding', 'pcm_f32le');
    // Presentation times: each utterance says when (on the relay clock) its audio is to be heard.
    listen.searchParams.set('timing', 'true');
    const rate = this.options.sampleRate ?? this.context?.sampleRate;
    if (rate !== undefined && SAMPLE_RATES.includes(rate)) listen.searchParams.set('sample_rate', String(rate));
    // The token rides as a subprotocol entry: never in the URL, so never in a log or the history.
    const socket = new WebSocket(listen, [RELAY_SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`]);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let opened = false;
    socket.onopen = () => void (opened = true);
    socket.onmessage = (event) => {
      this.feedWatchdog();
      if (typeof event.data === 'string') this.fromRelay(event.data);
      else this.audio(/** @type {ArrayBuffer} */ (event.data));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      clearTimeout(this.watchdog);
      this.stopClockSync();
      this.hello = null;
      if (this.closed) return;
      if (FINAL_CLOSE_CODES.includes(event.code)) return this.refuse({ code: /** @type {any} */ (event.reason || 'unauthorized'), message: closeMessage(event.code) });
      // A refused upgrade reaches a browser as a bare 1006: ask the status route why, with the same token.
      if (!opened) this.diagnose().catch(() => this.scheduleReconnect());
      else this.scheduleReconnect();
    };
  }

  async diagnose() {
    const { url, stream, token } = this.options;
    const response = await fetch(new URL(streamPath(stream), url), {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status === 401 || response.status === 403 || response.status === 400) {
      const body = await response.json().catch(() => null);
      return this.refuse(body?.error ?? { code: 'unauthorized', message: `The relay refused the token (HTTP ${response.status}).` });
    }
    this.scheduleReconnect();
  }

  /** @param {ErrorInfo} error */
  refuse(error) {
    this.dispatch('error', error);
    this.setState('refused');
  }

  scheduleReconnect() {
    if (!this.options.reconnect || this.closed) return this.setState('closed');
    this.setState('reconnecting');
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt++;
    this.retry = setTimeout(() => this.open(), delay);
  }

  feedWatchdog() {
    if (!this.hello) return;
    clearTimeout(this.watchdog);
    // Silence for twice the heartbeat means the link is dead even if the socket has not noticed.
    this.watchdog = setTimeout(() => this.socket?.close(4000, 'heartbeat missed'), this.hello.heartbeat_ms * 2);
  }

  /** @param {string} text */
  fromRelay(text) {
    /** @type {ListenerMessage} */
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case 'hello':
        this.hello = message;
        this.attempt = 0;
        this.feedWatchdog();
        this.setState('open');
        this.startClockSync(message);
        this.dispatch('hello', message);
        break;
      case 'clock_pong':
        this.clock.add({ t0: message.t0, t1: message.t1, t2: message.t2, t3: localClock() });
        this.mapClock();
        break;
      case 'timing':
        this.node?.port.postMessage({ type: 'timing', utterance: message.utterance, sample: message.sample, at: message.at });
        this.dispatch('timing', message);
        break;
      case 'utterance_start':
        this.dispatch('utterancestart', message);
        break;
      case 'timestamps': {
        const words = this.words.get(message.utterance) ?? [];
        words.push(...message.words);
        this.words.set(message.utterance, words);
        this.dispatch('timestamps', message);
        break;
      }
      case 'utterance_end':
        this.node?.port.postMessage(message.reason === 'cancelled' ? { type: 'flush' } : { type: 'end', utterance: message.utterance });
        this.dispatch('utteranceend', message);
        break;
      case 'error':
        this.dispatch('error', message.error);
        break;
      default:
        break;
    }
  }

  /**
   * A relay that keeps presentation times (hello.clock) is pinged for its clock, and the worklet holds each utterance
   * until due; an older one is played as it comes. @param {Hello} hello
   */
  startClockSync(hello) {
    this.stopClockSync();
    this.clock.reset();
    this.outputReadings = [];
    this.node?.port.postMessage({ type: 'sync', on: hello.clock !== undefined });
    if (hello.clock === undefined) return;
    const socket = this.socket;
    let sent = 0;
    const ping = () => {
      if (socket?.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: 'clock_ping', id: sent, t0: localClock() }));
      this.pinger = setTimeout(ping, nextPingDelay(sent++));
    };
    ping();
    this.mapper = setInterval(() => this.mapClock(), CLOCK_MAP_EVERY_MS);
  }

  stopClockSync() {
    clearTimeout(this.pinger);
    clearInterval(this.mapper);
  }

  /**
   * Tells the worklet which context time is heard at which relay time. getOutputTimestamp pairs the context time
   * leaving the speakers with the performance clock; its pairing jitters with the audio callback, so the median of
   * recent readings is used. Where it is missing, currentTime less the output latency stands in.
   */
  mapClock() {
    const context = this.context;
    const offset = this.clock.estimate()?.offsetMs;
    if (!context || offset === undefined) return;
    const stamp = context.getOutputTimestamp?.();
    const usable = stamp?.contextTime !== undefined && stamp.performanceTime !== undefined && stamp.performanceTime > 0;
    const contextTime = usable ? /** @type {number} */ (stamp.contextTime) : context.currentTime - (context.outputLatency || context.baseLatency || 0);
    const performanceTime = usable ? /** @type {number} */ (stamp.performanceTime) : performance.now();
    this.outputReadings.push(contextTime * 1000 - performanceTime);
    if (this.outputReadings.length > CLOCK_MAP_READINGS) this.outputReadings.shift();
    const paired = median([...this.outputReadings].sort((a, b) => a - b));
    const relay = performance.timeOrigin + contextTime * 1000 - paired + offset;
    this.node?.port.postMessage({ type: 'clock', relay, context: contextTime });
  }

  /** @param {ArrayBuffer} buffer */
  audio(buffer) {
    const hello = this.hello;
    if (!hello || buffer.byteLength < AUDIO_HEADER_BYTES || hello.format.encoding !== 'pcm_f32le') return;
    const view = new DataView(buffer);
    if (view.getUint8(0) !== 1 || view.getUint8(1) !== 1) return;
    const samples = new Float32Array(buffer, AUDIO_HEADER_BYTES, (buffer.byteLength - AUDIO_HEADER_BYTES) >> 2);
    const message = { type: 'audio', samples, rate: hello.format.sample_rate, utterance: view.getUint32(4, true), offset: view.getUint32(8, true) };
    this.node?.port.postMessage(message, [buffer]);
  }

  /** @param {any} message */
  fromWorklet(message) {
    if (message.type === 'position') {
      this.lastPosition = message;
      this.dispatch('position', message);
      this.trackWord(message);
    } else if (message.type === 'played') {
      const rate = this.hello?.format.sample_rate;
      if (rate) this.report({ type: 'played', utterance: message.utterance, samples: Math.round(message.seconds * rate), final: true });
      this.dispatch('played', message);
      this.words.delete(message.utterance);
    } else if (message.type === 'underrun') {
      this.dispatch('underrun', message);
    }
  }

  /** The context time now coming out of the speakers: output latency included where the browser reports it. */
  heardTime() {
    const context = /** @type {AudioContext} */ (this.context);
    const stamp = context.getOutputTimestamp?.();
    if (stamp?.contextTime !== undefined && stamp.performanceTime !== undefined && stamp.performanceTime > 0) {
      return stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
    }
    return context.currentTime - (context.outputLatency || context.baseLatency || 0);
  }

  /** Emits `word` when the word under the heard position changes. @param {PositionReport} position */
  trackWord(position) {
    const rate = this.hello?.format.sample_rate;
    const held = position.state === 'waiting';
    if ((position.state !== 'playing' && !held) || position.utterance === null || position.sample === null || !rate) return;
    const words = this.words.get(position.utterance);
    if (!words || words.length === 0) return;
    // Held for its presentation time (an explicit gap): what came before the head is heard, the head is not yet.
    const heardSeconds = held ? (position.sample - 1) / rate : (position.sample + (this.heardTime() - position.time) * rate) / rate;
    if (heardSeconds > 0 && performance.now() - this.lastReportAt >= PLAYED_REPORT_INTERVAL_MS) {
      this.lastReportAt = performance.now();
      this.report({ type: 'played', utterance: position.utterance, samples: Math.floor(heardSeconds * rate) });
    }
    let index = -1;
    for (let i = 0; i < words.length; i++) if (/** @type {WordTimestamp} */ (words[i]).start <= heardSeconds) index = i;
    const current = this.currentWord;
    if (index < 0 || (current && current.utterance === position.utterance && current.index === index)) return;
    this.currentWord = { utterance: position.utterance, index };
    const word = /** @type {WordTimestamp} */ (words[index]);
    this.dispatch('word', { utterance: position.utterance, index, word: word.word, start: word.start, end: word.end });
  }

  /**
   * Tells the relay how far into an utterance this page has played, for the `heard` of its speakers. Only to a relay
   * whose hello has `clock` (one that takes listener messages; an older one closes on any).
   * @param {import('../../../shared/protocol.ts').Played} played
   */
  report(played) {
    if (this.hello?.clock && this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(played));
  }

  /** @param {ConnectionState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatch('state', state);
  }

  /** @param {string} type @param {unknown} detail */
  dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** @param {number} code */
function closeMessage(code) {
  if (code === 4401) return 'The relay refused the token: it is unknown, expired or malformed.';
  if (code === 4403) return 'The token does not allow listening to this stream.';
  return 'The relay refused the request.';
}
