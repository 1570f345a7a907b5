// @ts-check
/**
 * The browser client's wire: the listen socket's address and token, audio frames, refusals and the reconnect
 * backoff. Used by client.js, which re-exports the constants.
 */

/** @typedef {import('../../../shared/protocol.ts').ErrorInfo} ErrorInfo @typedef {import('../../../shared/protocol.ts').Hello} Hello */

// The wire constants of shared/protocol.ts, which imports zod and so cannot load here (a test pins them equal).
export const RELAY_SUBPROTOCOL = 'tts-relay';
export const TOKEN_SUBPROTOCOL_PREFIX = 'tts-relay.token.';
export const AUDIO_HEADER_BYTES = 12;
export const SAMPLE_RATES = [8000, 16000, 22050, 24000, 44100, 48000];
export const PLAYED_REPORT_INTERVAL_MS = 250;
/** Close codes after which reconnecting cannot help (shared/errors.ts: 4400 bad request, 4401 credentials, 4403 forbidden). */
const FINAL_CLOSE_CODES = [4400, 4401, 4403];
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/** A stream's routes on the relay: `/v1/streams/<name>` with each path segment escaped (names may hold slashes). @param {string} stream */
export function streamPath(stream) {
  return `/v1/streams/${stream.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Opens the listen socket: f32 audio with presentation times, at `rate` when the relay offers it. The token rides as
 * a subprotocol entry: never in the URL, so never in a log or the history.
 * @param {{ url: string, stream: string, token: string }} options @param {number | undefined} rate
 */
export function openListenSocket({ url, stream, token }, rate) {
  const listen = new URL(`${streamPath(stream)}/listen`, url);
  listen.protocol = listen.protocol === 'https:' || listen.protocol === 'wss:' ? 'wss:' : 'ws:';
  listen.searchParams.set('encoding', 'pcm_f32le');
  // Presentation times: each utterance says when (on the relay clock) its audio is to be heard.
  listen.searchParams.set('timing', 'true');
  if (rate !== undefined && SAMPLE_RATES.includes(rate)) listen.searchParams.set('sample_rate', String(rate));
  const socket = new WebSocket(listen, [RELAY_SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`]);
  socket.binaryType = 'arraybuffer';
  return socket;
}

/** Why a close is final (the relay refused the credential), or null when reconnecting may help. @param {CloseEvent} event @returns {ErrorInfo | null} */
export function finalClose(event) {
  if (!FINAL_CLOSE_CODES.includes(event.code)) return null;
  const message =
    event.code === 4401
      ? 'The relay refused the token: it is unknown, expired or malformed.'
      : event.code === 4403
        ? 'The token does not allow listening to this stream.'
        : 'The relay refused the request.';
  return { code: /** @type {any} */ (event.reason || 'unauthorized'), message };
}

/**
 * A refused upgrade reaches a browser as a bare 1006: the stream's status route, asked with the same token, says why.
 * Null when it does not refuse (the relay was away: reconnect). @param {{ url: string, stream: string, token: string }} options
 * @returns {Promise<ErrorInfo | null>}
 */
export async function askWhyRefused({ url, stream, token }) {
  const response = await fetch(new URL(streamPath(stream), url), { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 401 && response.status !== 403 && response.status !== 400) return null;
  const body = await response.json().catch(() => null);
  return body?.error ?? { code: 'unauthorized', message: `The relay refused the token (HTTP ${response.status}).` };
}

/** Milliseconds before reconnect attempt `attempt` (0 first): doubling from 250 ms to 5 s, ±25 % jitter. @param {number} attempt */
export function reconnectDelay(attempt) {
  return Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt) * (0.75 + Math.random() * 0.5);
}

/**
 * An audio frame as the worklet takes it, or null for anything else (another kind, a format this client does not play).
 * @param {ArrayBuffer} buffer @param {Hello} hello
 */
export function audioMessage(buffer, hello) {
  if (buffer.byteLength < AUDIO_HEADER_BYTES || hello.format.encoding !== 'pcm_f32le') return null;
  const view = new DataView(buffer);
  if (view.getUint8(0) !== 1 || view.getUint8(1) !== 1) return null;
  const samples = new Float32Array(buffer, AUDIO_HEADER_BYTES, (buffer.byteLength - AUDIO_HEADER_BYTES) >> 2);
  return { type: 'audio', samples, rate: hello.format.sample_rate, utterance: view.getUint32(4, true), offset: view.getUint32(8, true) };
}
