// @ts-check
/** The player page: stream and token from the URL fragment (or this device's storage), one Play button, captions. */
import { RelayPlayer, streamPath } from './client.js';

/** @typedef {import('./client.js').WordEvent} WordEvent @typedef {import('./client.js').PositionReport} PositionReport */

const STORAGE_KEY = 'tts-relay.player';
const STATUS_POLL_MS = 2000;
const STATE_TEXT = { connecting: 'Connecting…', open: 'Listening', reconnecting: 'Reconnecting…', refused: 'Refused', closed: 'Not connected' };

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const form = /** @type {HTMLFormElement} */ ($('connect'));
const streamInput = /** @type {HTMLInputElement} */ ($('stream'));
const tokenInput = /** @type {HTMLInputElement} */ ($('token'));
const remember = /** @type {HTMLInputElement} */ ($('remember'));
const playButton = /** @type {HTMLButtonElement} */ ($('play'));
const errorBox = $('error');
const connection = $('connection');
const captions = $('captions');
const queueList = $('queue');
const level = /** @type {HTMLMeterElement} */ ($('level'));
const volume = /** @type {HTMLInputElement} */ ($('volume'));

/** @type {RelayPlayer | null} */
let player = null;
/** @type {ReturnType<typeof setInterval> | undefined} */
let poll;
/** @type {PositionReport | null} */
let latest = null;

restoreCredentials();
form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (player) stop();
  else play().catch((error) => showError(error instanceof Error ? error.message : String(error)));
});
volume.addEventListener('input', () => {
  if (player) player.volume = Number(volume.value);
});
$('speak').addEventListener('submit', (event) => {
  event.preventDefault();
  speak(false).catch(() => {});
});
$('barge').addEventListener('click', () => void speak(true).catch(() => {}));

function restoreCredentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const stored = readStored();
  streamInput.value = fragment.get('stream') ?? stored?.stream ?? '';
  tokenInput.value = fragment.get('token') ?? stored?.token ?? '';
  remember.checked = stored !== null;
  offerStreams(tokenInput.value);
  tokenInput.addEventListener('change', () => offerStreams(tokenInput.value));
}

/** @returns {{ stream: string, token: string } | null} */
function readStored() {
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    return typeof value?.stream === 'string' && typeof value?.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

/**
 * The token's claims, read (not verified: the relay does that) to offer its streams and speak controls.
 * @param {string} token @returns {{ streams: string[], actions: string[] } | null}
 */
function claimsOf(token) {
  const part = token.split('.')[1];
  if (token.split('.').length !== 3 || !part) return null;
  try {
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return { streams: Array.isArray(claims.streams) ? claims.streams.map(String) : [], actions: Array.isArray(claims.actions) ? claims.actions.map(String) : [] };
  } catch {
    return null;
  }
}

/** @param {string} token */
function offerStreams(token) {
  const list = $('streams');
  list.replaceChildren(...(claimsOf(token)?.streams ?? []).filter((s) => !s.includes('*')).map((s) => Object.assign(document.createElement('option'), { value: s })));
}

async function play() {
  hideError();
  const stream = streamInput.value.trim();
  const token = tokenInput.value.trim();
  const claims = claimsOf(token);
  if (!claims) throw new Error('That is not a relay token. Mint one with POST /v1/tokens (actions ["listen"]); admin keys work only in an Authorization header, never in a page.');
  if (remember.checked) localStorage.setItem(STORAGE_KEY, JSON.stringify({ stream, token }));
  else localStorage.removeItem(STORAGE_KEY);
  const fragment = new URLSearchParams(location.hash.slice(1));
  fragment.set('stream', stream);
  history.replaceState(null, '', `#${fragment}`);

  // Made inside the click, so the browser lets it start; everything after may await.
  const context = new AudioContext({ latencyHint: 'interactive' });
  const current = new RelayPlayer({ url: location.origin, stream, token, context, volume: Number(volume.value) });
  player = current;
  Object.assign(globalThis, { relayPlayer: current }); // for the console and the browser tests
  playButton.textContent = 'Stop';
  wire(current);
  setConnection('connecting');
  await current.start();
  $('speak-section').hidden = !claims.actions.includes('speak');
  $('barge').hidden = !claims.actions.includes('cancel');
  poll = setInterval(() => void refreshQueue(), STATUS_POLL_MS);
  requestAnimationFrame(drawMeters);
}

function stop() {
  player?.close();
  player = null;
  clearInterval(poll);
  playButton.textContent = 'Play';
  setConnection('closed');
}

/** @param {RelayPlayer} current */
function wire(current) {
  const on = (/** @type {string} */ type, /** @type {(detail: any) => void} */ handle) =>
    current.addEventListener(type, (event) => handle(/** @type {CustomEvent} */ (event).detail));
  on('state', (state) => {
    setConnection(state);
    if (state === 'open') {
      hideError();
      void refreshQueue();
    }
    if (state === 'refused') {
      clearInterval(poll);
      playButton.textContent = 'Play';
      player = null;
    }
  });
  on('error', (error) => showError(`${error.message} (${error.code})`));
  on('timestamps', (message) => addWords(message.utterance, message.words));
  on('utterancestart', () => void refreshQueue());
  on('utteranceend', (message) => {
    if (message.reason === 'cancelled') captionOf(message.utterance).classList.add('done');
    void refreshQueue();
  });
  on('word', (/** @type {WordEvent} */ word) => markWord(word));
  on('played', (played) => captionOf(played.utterance).classList.add('done'));
  on('position', (position) => void (latest = position));
}

/** @param {number} utterance */
function captionOf(utterance) {
  let paragraph = /** @type {HTMLElement | null} */ (captions.querySelector(`p[data-utterance="${utterance}"]`));
  if (!paragraph) {
    captions.querySelector('.placeholder')?.remove();
    paragraph = Object.assign(document.createElement('p'), { hidden: true });
    paragraph.dataset.utterance = String(utterance);
    captions.append(paragraph);
  }
  return paragraph;
}

/** @param {number} utterance @param {Array<{ word: string }>} words */
function addWords(utterance, words) {
  const paragraph = captionOf(utterance);
  for (const { word } of words) {
    const span = document.createElement('span');
    span.textContent = word;
    paragraph.append(span, ' ');
  }
}

/** Shows the utterance being heard and marks its current word; older captions go. @param {WordEvent} word */
function markWord(word) {
  const paragraph = captionOf(word.utterance);
  for (const other of captions.querySelectorAll('p[data-utterance]')) {
    if (Number(/** @type {HTMLElement} */ (other).dataset.utterance) < word.utterance) other.remove();
  }
  paragraph.hidden = false;
  captions.querySelector('[aria-current="true"]')?.removeAttribute('aria-current');
  paragraph.querySelectorAll('span')[word.index]?.setAttribute('aria-current', 'true');
}

async function refreshQueue() {
  const current = player;
  if (!current || current.state !== 'open') return;
  const { stream, token } = current.options;
  const response = await fetch(streamPath(stream), { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
  if (!response || current !== player) return;
  /** @type {import('./client.js').StreamStatus | null} */
  const status = response.ok ? await response.json() : null;
  const items = [];
  if (status?.current) items.push(queueItem(`Speaking: utterance ${status.current.utterance}`, status.current.utterance_id, true));
  for (const entry of status?.queue ?? []) items.push(queueItem(`Queued: utterance ${entry.utterance}`, entry.utterance_id, false));
  queueList.replaceChildren(...(items.length > 0 ? items : [Object.assign(document.createElement('li'), { className: 'placeholder', textContent: 'Nothing queued' })]));
}

/** @param {string} text @param {string} id @param {boolean} current */
function queueItem(text, id, current) {
  const item = Object.assign(document.createElement('li'), { textContent: text, title: id });
  item.dataset.utteranceId = id;
  if (current) item.className = 'current';
  return item;
}

/** @param {boolean} interrupt */
async function speak(interrupt) {
  const current = player;
  const text = /** @type {HTMLTextAreaElement} */ ($('text')).value.trim();
  const result = $('speak-result');
  if (!current || !text) return;
  const { stream, token } = current.options;
  const path = `${streamPath(stream)}/speak${interrupt ? '?interrupt=true' : ''}`;
  const response = await fetch(path, { method: 'POST', body: text, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } });
  const body = await response.json().catch(() => null);
  result.textContent = response.ok ? `${interrupt ? 'Barged in' : 'Queued'}: utterance ${body?.utterance}` : `Refused: ${body?.error?.message ?? response.status}`;
  void refreshQueue();
}

function drawMeters() {
  if (!player) return;
  if (latest) {
    level.value = Math.min(1, latest.peak);
    $('heard').textContent = `${latest.renderedSeconds.toFixed(1)} s`;
    // In step the relay's sync delay is the jitter buffer: there is no target of the page's own to show.
    const target = latest.targetMs === null ? 'in step' : `target ${Math.round(latest.targetMs)}`;
    $('buffer').textContent = `${Math.round(latest.bufferedMs)} ms (${target}, ${latest.underruns} underruns)`;
  }
  $('sync').textContent = syncText(player);
  requestAnimationFrame(drawMeters);
}

/**
 * The relay clock as this page estimates it (offset of the relay's clock from this device's, ± its uncertainty) and
 * how many late stretches were skipped to stay in step. @param {RelayPlayer} current
 */
function syncText(current) {
  if (!current.hello) return '–';
  if (!current.hello.clock) return 'not kept by this relay (playing as it comes)';
  const { clock, late } = current.sync;
  if (!clock) return 'measuring…';
  const sign = clock.offsetMs < 0 ? '−' : '+';
  return `relay clock ${sign}${Math.abs(clock.offsetMs).toFixed(1)} ms ± ${clock.uncertaintyMs.toFixed(1)} · ${late} skipped late`;
}

/** @param {keyof typeof STATE_TEXT} state */
function setConnection(state) {
  connection.dataset.state = state;
  connection.textContent = STATE_TEXT[state];
}

/** @param {string} message */
function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function hideError() {
  errorBox.hidden = true;
}
