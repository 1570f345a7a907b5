/** A listener's connection to one stream: validates every frame, watches heartbeats, reconnects with backoff. */
import WebSocket from 'ws';
import type { Encoding, SampleRate } from '../shared/audio-format.ts';
import {
  decodeAudioFrame,
  parseListenerMessage,
  type AudioFrame,
  type Hello,
  type ListenerMessage,
} from '../shared/protocol.ts';
import { AgentError } from './agent-error.ts';
import { Backoff } from './backoff.ts';
import { authHeaders, listenURL, type RelayEndpoint } from './relay-endpoint.ts';
import { authHint, formatRelayError, parseRelayError } from './relay-error.ts';

/** Covers the upgrade and the hello; a relay that accepts but stays mute this long is treated as down. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Silence for this many heartbeat periods means the link is dead (protocol.ts: helloSchema.heartbeat_ms). */
export const HEARTBEAT_TOLERANCE = 2;
/** Upgrade refusals worth no retry: the same request would be refused again. */
const FATAL_UPGRADE_STATUSES = new Set([400, 401, 403, 404, 415]);
/** Close codes from shared/errors.ts that retrying cannot fix: bad request, unauthorized, forbidden, not found. */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4404]);
const MAX_ERROR_BODY_BYTES = 4096;
/** How long a closing handshake may take before the socket is dropped (ws waits 30 s by default). */
const CLOSE_GRACE_MS = 1000;

export type ListenState =
  | { kind: 'connecting'; attempt: number; url: string }
  | { kind: 'connected'; hello: Hello }
  | { kind: 'reconnecting'; delayMs: number; reason: string };

export interface ListenHandlers {
  onState(state: ListenState): void;
  /** Every validated control message after `hello` (which arrives through `onState`). */
  onMessage(message: Exclude<ListenerMessage, Hello>): void;
  onAudio(frame: AudioFrame): void;
  /** Frames that fail validation: logged and skipped, never fatal. */
  onWarning(text: string): void;
}

export interface ListenOptions {
  endpoint: RelayEndpoint;
  stream: string;
  format: { encoding?: Encoding; sampleRate?: SampleRate };
  /** Aborting closes the socket and resolves `listenToStream`. */
  signal: AbortSignal;
  backoff?: Backoff;
  connectTimeoutMs?: number;
}

interface ConnectionOutcome {
  helloSeen: boolean;
  reason: string;
}

/**
 * Listens until `options.signal` aborts (resolves) or a failure that retrying cannot fix (rejects with an
 * AgentError): refused credentials, a bad request, or an error thrown by a handler.
 */
export async function listenToStream(options: ListenOptions, handlers: ListenHandlers): Promise<void> {
  const backoff = options.backoff ?? new Backoff();
  const url = listenURL(options.endpoint, options.stream, options.format);
  for (let attempt = 1; !options.signal.aborted; attempt++) {
    handlers.onState({ kind: 'connecting', attempt, url: url.href });
    const outcome = await connectOnce(url, options, handlers);
    if (options.signal.aborted) return;
    if (outcome.helloSeen) backoff.reset();
    const delayMs = backoff.next();
    handlers.onState({ kind: 'reconnecting', delayMs, reason: outcome.reason });
    await sleep(delayMs, options.signal);
  }
}

function connectOnce(url: URL, options: ListenOptions, handlers: ListenHandlers): Promise<ConnectionOutcome> {
  const { signal, endpoint } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: authHeaders(endpoint), perMessageDeflate: false });
    let hello: Hello | null = null;
    let failure: unknown = null;
    let reason = 'connection closed';
    let watchdog: ReturnType<typeof setTimeout> | undefined;

    /** Graceful only when the agent stops on purpose; a dead or refusing peer gets no closing handshake. */
    const stop = (why: string, error?: unknown, graceful = false): void => {
      reason = why;
      if (error !== undefined && failure === null) failure = error;
      if (graceful && ws.readyState === WebSocket.OPEN) {
        ws.close(1000, 'agent stopping');
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref?.();
      } else {
        ws.terminate();
      }
    };
    const arm = (ms: number, why: string): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => stop(why), ms);
    };
    /** Any frame proves the link alive; silence for HEARTBEAT_TOLERANCE periods drops it. */
    const armHeartbeat = (greeting: Hello): void => {
      const ms = greeting.heartbeat_ms * HEARTBEAT_TOLERANCE;
      arm(ms, `no heartbeat for ${ms / 1000} s`);
    };
    const onAbort = (): void => stop('agent stopping', undefined, true);
    /** A throwing handler stops this listener instead of escaping from a socket callback. */
    const guard = (fn: () => void): void => {
      try {
        fn();
      } catch (error) {
        stop('handler failed', error);
      }
    };

    arm(connectTimeoutMs, `no hello within ${connectTimeoutMs / 1000} s`);
    signal.addEventListener('abort', onAbort, { once: true });

    ws.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size <= MAX_ERROR_BODY_BYTES) chunks.push(chunk);
      });
      response.on('error', () => stop(`relay answered HTTP ${response.statusCode ?? 0}`));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        const info = parseRelayError(status, Buffer.concat(chunks).toString('utf8'));
        if (FATAL_UPGRADE_STATUSES.has(status)) {
          stop(`refused: ${formatRelayError(info)}`, refusal(info.code, info.message, status, endpoint));
        } else {
          stop(`relay answered ${status}: ${formatRelayError(info)}`);
        }
      });
    });

    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (hello !== null) armHeartbeat(hello);
      const bytes = toBytes(data);
      if (isBinary) {
        const frame = decodeAudioFrame(bytes);
        if (frame === null) return guard(() => handlers.onWarning(`skipped a binary frame that is not a version-1 audio frame (${bytes.byteLength} bytes)`));
        if (hello === null) return guard(() => handlers.onWarning('skipped audio received before hello'));
        return guard(() => handlers.onAudio(frame));
      }
      const text = new TextDecoder().decode(bytes);
      const message = parseListenerMessage(text);
      if (message === null) return guard(() => handlers.onWarning(`skipped an invalid control message: ${text.slice(0, 120)}`));
      if (message.type === 'hello') {
        hello = message;
        armHeartbeat(message);
        return guard(() => handlers.onState({ kind: 'connected', hello: message }));
      }
      if (hello === null) return guard(() => handlers.onWarning(`skipped "${message.type}" received before hello`));
      guard(() => handlers.onMessage(message));
    });

    ws.on('error', (error: Error) => {
      // A `close` event always follows; keep the most telling reason for it. A refused upgrade lands here
      // only where ws emits no 'unexpected-response' (Bun's built-in ws).
      const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
      if (status !== undefined && FATAL_UPGRADE_STATUSES.has(Number(status)) && failure === null) {
        const info = parseRelayError(Number(status), '');
        failure = refusal(info.code, info.message, info.status, endpoint);
      }
      if (reason === 'connection closed') reason = describeSocketError(error);
    });

    ws.on('close', (code: number, reasonBuffer: Buffer) => {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', onAbort);
      const closeReason = reasonBuffer.toString('utf8');
      if (failure === null && FATAL_CLOSE_CODES.has(code)) {
        const info = closeReasonInfo(code, closeReason);
        failure = refusal(info.code, info.message, code, endpoint);
      }
      if (failure !== null) return reject(failure);
      if (reason === 'connection closed' && code !== 1005 && code !== 1006) {
        reason = `closed by the relay (${code}${closeReason === '' ? '' : `: ${closeReason}`})`;
      }
      resolve({ helloSeen: hello !== null, reason });
    });
  });
}

function refusal(code: string, message: string, status: number, endpoint: RelayEndpoint): AgentError {
  const isAuth = status === 401 || status === 403 || status === 4401 || status === 4403;
  const hint = isAuth ? ` (${authHint(endpoint.token !== undefined)})` : '';
  const said = formatRelayError({ code, message: message.replace(/\.$/, '') });
  return new AgentError('relay_refused', `relay refused to let this agent listen: ${said}${hint}`);
}

/** The relay may put an error code (or a JSON error body) in the close reason; fall back to the close code. */
function closeReasonInfo(code: number, reason: string): { code: string; message: string } {
  if (reason.startsWith('{')) {
    const info = parseRelayError(code, reason);
    if (!info.code.startsWith('http_')) return info;
  }
  const match = /^([a-z_]+)(?::\s*(.*))?$/.exec(reason);
  if (match?.[1] !== undefined) return { code: match[1], message: match[2] ?? reason };
  const fallback: Record<number, string> = { 4400: 'bad_request', 4401: 'unauthorized', 4403: 'forbidden', 4404: 'not_found' };
  return { code: fallback[code] ?? `close_${code}`, message: reason === '' ? `closed with code ${code}` : reason };
}

function describeSocketError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'relay not reachable (connection refused)';
  if (code === 'ENOTFOUND') return 'relay host not found';
  if (code === 'ECONNRESET') return 'connection reset';
  return error.message;
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
