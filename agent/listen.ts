/** A listener's connection to one stream: validates every frame, watches heartbeats, reconnects with backoff. */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Encoding, SampleRate } from '../shared/audio-format.ts';
import {
  decodeAudioFrame,
  parseListenerMessage,
  type AudioFrame,
  type Hello,
  type ListenerMessage,
  type ListenerClientMessage,
} from '../shared/protocol.ts';
import { codeForClose, isRetryableClose, isRetryableStatus } from '../shared/errors.ts';
import { sleep, unrefTimer } from '../shared/timers.ts';
import { AgentError } from './agent-error.ts';
import { Backoff } from './backoff.ts';
import { authHeaders, listenURL, type RelayEndpoint } from './relay-endpoint.ts';
import { explainConnectFailure } from './connect-failure.ts';
import { authHint, formatRelayError, parseRelayError } from './relay-error.ts';

/** Covers the upgrade and the hello; a relay that accepts but stays mute this long is treated as down. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Silence for this many heartbeat periods means the link is dead (protocol.ts: helloSchema.heartbeat_ms). */
export const HEARTBEAT_TOLERANCE = 2;
const MAX_ERROR_BODY_BYTES = 4096;
/** How long a closing handshake may take before the socket is dropped (ws waits 30 s by default). */
const CLOSE_GRACE_MS = 1000;

export type ListenState =
  | { kind: 'connecting'; attempt: number; url: string }
  /** `send` writes a listener report (shared/protocol.ts) on this connection; a no-op once it closed. */
  | { kind: 'connected'; hello: Hello; send: (report: ListenerClientMessage) => void }
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
  /** Ask for presentation times (`timing` messages). */
  timing?: boolean;
}

interface ConnectionOutcome {
  helloSeen: boolean;
  reason: string;
  /** The transport error, when the socket failed rather than closed. */
  error?: Error;
}

/**
 * Listens until `options.signal` aborts (resolves) or a failure that retrying cannot fix (rejects with an
 * AgentError): refused credentials, a bad request, or an error thrown by a handler.
 */
export async function listenToStream(options: ListenOptions, handlers: ListenHandlers): Promise<void> {
  const backoff = options.backoff ?? new Backoff();
  const url = listenURL(options.endpoint, options.stream, options.format, { timing: options.timing ?? false });
  for (let attempt = 1; !options.signal.aborted; attempt++) {
    handlers.onState({ kind: 'connecting', attempt, url: url.href });
    const outcome = await connectOnce(url, options, handlers);
    if (options.signal.aborted) return;
    if (outcome.helloSeen) backoff.reset();
    let reason = outcome.reason;
    if (!outcome.helloSeen && outcome.error) {
      // An untrusted certificate or a TLS relay behind an http:// URL fails the same way every time.
      const explained = await explainConnectFailure(options.endpoint.baseURL, outcome.error);
      if (explained.fatal) throw new AgentError('relay_unreachable', explained.message, { cause: outcome.error });
      reason = explained.message;
    }
    const delayMs = backoff.next();
    handlers.onState({ kind: 'reconnecting', delayMs, reason });
    await sleep(delayMs, options.signal);
  }
}

function connectOnce(url: URL, options: ListenOptions, handlers: ListenHandlers): Promise<ConnectionOutcome> {
  return new Promise((resolve, reject) => new StreamConnection(url, options, handlers, resolve, reject));
}

/** One WebSocket to the relay, from the upgrade to its close: settles `connectOnce` exactly once, on close. */
class StreamConnection {
  private readonly ws: WebSocket;
  private hello: Hello | null = null;
  private failure: unknown = null;
  private transportError: Error | null = null;
  private reason = 'connection closed';
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = (): void => this.stop('agent stopping', undefined, true);

  constructor(
    url: URL,
    private readonly options: ListenOptions,
    private readonly handlers: ListenHandlers,
    private readonly resolve: (outcome: ConnectionOutcome) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.ws = new WebSocket(url, { headers: authHeaders(options.endpoint), perMessageDeflate: false });
    const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.arm(connectTimeoutMs, `no hello within ${connectTimeoutMs / 1000} s`);
    options.signal.addEventListener('abort', this.onAbort, { once: true });
    this.ws.on('unexpected-response', (_request, response) => this.refused(response));
    this.ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.received(toBytes(data), isBinary));
    this.ws.on('error', (error: Error) => this.errored(error));
    this.ws.on('close', (code: number, reason: Buffer) => this.closed(code, reason.toString('utf8')));
  }

  /** Graceful only when the agent stops on purpose; a dead or refusing peer gets no closing handshake. */
  private stop(why: string, error?: unknown, graceful = false): void {
    this.reason = why;
    if (error !== undefined && this.failure === null) this.failure = error;
    if (graceful && this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(1000, 'agent stopping');
      unrefTimer(setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS));
    } else {
      this.ws.terminate();
    }
  }

  private arm(ms: number, why: string): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.stop(why), ms);
  }

  /** Any frame proves the link alive; silence for HEARTBEAT_TOLERANCE periods drops it. */
  private armHeartbeat(greeting: Hello): void {
    const ms = greeting.heartbeat_ms * HEARTBEAT_TOLERANCE;
    this.arm(ms, `no heartbeat for ${ms / 1000} s`);
  }

  /** A throwing handler stops this listener instead of escaping from a socket callback. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.stop('handler failed', error);
    }
  }

  /** The relay refused the upgrade: read (a bounded part of) its error body, and give up if retrying cannot help. */
  private refused(response: IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= MAX_ERROR_BODY_BYTES) chunks.push(chunk);
    });
    response.on('error', () => this.stop(`relay answered HTTP ${response.statusCode ?? 0}`));
    response.on('end', () => {
      const status = response.statusCode ?? 0;
      const info = parseRelayError(status, Buffer.concat(chunks).toString('utf8'));
      if (!isRetryableStatus(status)) {
        this.stop(`refused: ${formatRelayError(info)}`, refusal(info.code, info.message, status, this.options.endpoint));
      } else {
        this.stop(`relay answered ${status}: ${formatRelayError(info)}`);
      }
    });
  }

  private received(bytes: Uint8Array, isBinary: boolean): void {
    const { handlers } = this;
    if (this.hello !== null) this.armHeartbeat(this.hello);
    if (isBinary) {
      const frame = decodeAudioFrame(bytes);
      if (frame === null) return this.guard(() => handlers.onWarning(`skipped a binary frame that is not a version-1 audio frame (${bytes.byteLength} bytes)`));
      if (this.hello === null) return this.guard(() => handlers.onWarning('skipped audio received before hello'));
      return this.guard(() => handlers.onAudio(frame));
    }
    const text = new TextDecoder().decode(bytes);
    const message = parseListenerMessage(text);
    if (message === null) return this.guard(() => handlers.onWarning(`skipped an invalid control message: ${text.slice(0, 120)}`));
    if (message.type === 'hello') {
      this.hello = message;
      this.armHeartbeat(message);
      const send = (report: ListenerClientMessage): void => {
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(report));
      };
      return this.guard(() => handlers.onState({ kind: 'connected', hello: message, send }));
    }
    if (this.hello === null) return this.guard(() => handlers.onWarning(`skipped "${message.type}" received before hello`));
    this.guard(() => handlers.onMessage(message));
  }

  private errored(error: Error): void {
    // A `close` event always follows; keep the most telling reason for it. A refused upgrade lands here
    // only where ws emits no 'unexpected-response' (Bun's built-in ws).
    const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
    if (status !== undefined && !isRetryableStatus(Number(status)) && this.failure === null) {
      const info = parseRelayError(Number(status), '');
      this.failure = refusal(info.code, info.message, info.status, this.options.endpoint);
    }
    if (this.reason === 'connection closed') this.reason = describeSocketError(error);
    this.transportError ??= error;
  }

  private closed(code: number, closeReason: string): void {
    clearTimeout(this.watchdog);
    this.options.signal.removeEventListener('abort', this.onAbort);
    if (this.failure === null && !isRetryableClose(code)) {
      const info = closeReasonInfo(code, closeReason);
      this.failure = refusal(info.code, info.message, code, this.options.endpoint);
    }
    if (this.failure !== null) return this.reject(this.failure);
    if (this.reason === 'connection closed' && code !== 1005 && code !== 1006) {
      this.reason = `closed by the relay (${code}${closeReason === '' ? '' : `: ${closeReason}`})`;
    }
    this.resolve({ helloSeen: this.hello !== null, reason: this.reason, ...(this.transportError ? { error: this.transportError } : {}) });
  }
}

function refusal(code: string, message: string, status: number, endpoint: RelayEndpoint): AgentError {
  const advice = authHint(status, message, endpoint.token !== undefined);
  const hint = advice ? ` (${advice})` : '';
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
  return { code: codeForClose(code) ?? `close_${code}`, message: reason === '' ? `closed with code ${code}` : reason };
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
