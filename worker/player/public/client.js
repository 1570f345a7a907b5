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
 * @typedef {import('./worklet.js').PositionReport} PositionReport
 * @typedef {{ utterance: number, index: number, word: string, start: number, end: number }} WordEvent
 * @typedef {{ utterance: number, frames: number, seconds: number, skippedSeconds: number, complete: boolean }} PlayedEvent
 */

import { heardSeconds, heardTime, PresentationClock } from './client-clock.js';
import { askWhyRefused, audioMessage, finalClose, openListenSocket, PLAYED_REPORT_INTERVAL_MS, reconnectDelay } from './client-wire.js';

export { AUDIO_HEADER_BYTES, PLAYED_REPORT_INTERVAL_MS, RELAY_SUBPROTOCOL, SAMPLE_RATES, streamPath, TOKEN_SUBPROTOCOL_PREFIX } from './client-wire.js';

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
    /** The relay clock and its map onto the output clock, for the worklet (client-clock.js). */
    this.clock = new PresentationClock((map) => this.node?.port.postMessage({ type: 'clock', ...map }));
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

  /** Seconds rendered, underruns, buffer depth, jitter target (null in step) and level, from the latest worklet report. */
  get stats() {
    const p = this.lastPosition;
    if (!p) return { secondsHeard: 0, underruns: 0, bufferedMs: 0, targetMs: null, peak: 0, rms: 0 };
    return { secondsHeard: p.renderedSeconds, underruns: p.underruns, bufferedMs: p.bufferedMs, targetMs: p.targetMs, peak: p.peak, rms: p.rms };
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearTimeout(this.watchdog);
    this.clock.stop();
    this.socket?.close(1000);
    this.node?.disconnect();
    if (!this.options.context) this.context?.close().catch(() => {});
    this.setState('closed');
  }

  open() {
    const socket = openListenSocket(this.options, this.options.sampleRate ?? this.context?.sampleRate);
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
      this.clock.stop();
      this.hello = null;
      if (this.closed) return;
      const final = finalClose(event);
      if (final) return this.refuse(final);
      if (opened) return this.scheduleReconnect();
      askWhyRefused(this.options)
        .then((refused) => (refused ? this.refuse(refused) : this.scheduleReconnect()))
        .catch(() => this.scheduleReconnect());
    };
  }

  /** @param {ErrorInfo} error */
  refuse(error) {
    this.dispatch('error', error);
    this.setState('refused');
  }

  scheduleReconnect() {
    if (!this.options.reconnect || this.closed) return this.setState('closed');
    this.setState('reconnecting');
    this.retry = setTimeout(() => this.open(), reconnectDelay(this.attempt++));
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
        this.clock.pong(message);
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
    this.clock.stop();
    this.node?.port.postMessage({ type: 'sync', on: hello.clock !== undefined });
    if (hello.clock !== undefined && this.socket && this.context) this.clock.start(this.socket, this.context);
  }

  /** @param {ArrayBuffer} buffer */
  audio(buffer) {
    const message = this.hello && audioMessage(buffer, this.hello);
    if (message) this.node?.port.postMessage(message, [buffer]);
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
    return heardTime(/** @type {AudioContext} */ (this.context));
  }

  /** Emits `word` when the word under the heard position changes. @param {PositionReport} position */
  trackWord(position) {
    const [rate, utterance] = [this.hello?.format.sample_rate, position.utterance];
    const words = utterance === null ? [] : (this.words.get(utterance) ?? []);
    const heard = rate && words.length > 0 ? heardSeconds(position, rate, /** @type {AudioContext} */ (this.context)) : null;
    if (heard === null || utterance === null || !rate) return;
    if (heard > 0 && performance.now() - this.lastReportAt >= PLAYED_REPORT_INTERVAL_MS) {
      this.lastReportAt = performance.now();
      this.report({ type: 'played', utterance, samples: Math.floor(heard * rate) });
    }
    const index = words.findLastIndex((word) => word.start <= heard);
    const current = this.currentWord;
    if (index < 0 || (current && current.utterance === utterance && current.index === index)) return;
    this.currentWord = { utterance, index };
    const word = /** @type {WordTimestamp} */ (words[index]);
    this.dispatch('word', { utterance, index, word: word.word, start: word.start, end: word.end });
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
