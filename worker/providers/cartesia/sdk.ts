/**
 * The Cartesia provider's only runtime-specific code: loads the SDK's CommonJS build (its ESM build finds
 * no `ws` under Node 20), opens one SDK socket with our listeners attached before anything can fail, and
 * reads a CA file for self-hosted or test endpoints.
 */
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import type { ContextOptions as SDKContextOptions, TTSWS, TTSWSContext } from '@cartesia/cartesia-js/resources/tts/ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { ClientOptions, WebSocket as NodeWebSocket } from 'ws';
import { SOCKET_STATE } from '../../runtime/contract.ts';

export type { SDKContextOptions, TTSWSContext };

interface SDKModules {
  Cartesia: typeof CartesiaClient;
  TTSWS: typeof TTSWS;
  TTSWSContext: typeof TTSWSContext;
}

let modules: SDKModules | null = null;

function loadSDK(): SDKModules {
  if (modules) return modules;
  const require = createRequire(import.meta.url);
  const main = require('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };
  const tts = require('@cartesia/cartesia-js/resources/tts/ws') as { TTSWS: typeof TTSWS; TTSWSContext: typeof TTSWSContext };
  modules = { Cartesia: main.Cartesia, TTSWS: tts.TTSWS, TTSWSContext: tts.TTSWSContext };
  return modules;
}

export function readCertificateFile(path: string): string {
  return readFileSync(path, 'utf8');
}

export interface SocketOptions {
  apiKey: string;
  baseUrl: string;
  /** Extra trusted CA certificates (PEM) for a self-hosted or test endpoint. */
  ca?: string;
  connectTimeoutMs: number;
}

export interface SocketClosed {
  code: number;
  reason: string;
  /** HTTP status of a refused upgrade. */
  upgradeStatus?: number;
  /** Seconds from a refused upgrade's Retry-After header. */
  retryAfterSeconds?: number;
  /** The transport error that preceded the close, if any (message only: it never carries the key). */
  error?: string;
}

export interface SocketHandlers {
  /** A decoded JSON event, not yet validated. */
  message(value: unknown): void;
  /** A frame the SDK could not decode, or an SDK error outside any frame. */
  malformed(reason: string): void;
  closed(info: SocketClosed): void;
}

/** One SDK socket. Sends go through SDK contexts; nothing here ever reconnects. */
export class CartesiaSocket {
  readonly opened: Promise<void>;
  private readonly ws: TTSWS;
  private readonly raw: NodeWebSocket;
  private upgradeStatus: number | undefined;
  private retryAfterSeconds: number | undefined;
  private lastError: string | undefined;

  constructor(options: SocketOptions, handlers: SocketHandlers) {
    const { Cartesia, TTSWS } = loadSDK();
    const client = new Cartesia({ apiKey: options.apiKey, baseURL: options.baseUrl, maxRetries: 0 });
    const wsOptions: ClientOptions = {
      handshakeTimeout: options.connectTimeoutMs,
      // Public ws hook on the upgrade request: the only place a refused upgrade's status and Retry-After are visible.
      finishRequest: (request: ClientRequest) => {
        request.on('response', (response: IncomingMessage) => {
          this.upgradeStatus = response.statusCode;
          this.retryAfterSeconds = parseRetryAfter(response.headers['retry-after']);
        });
        request.end();
      },
      ...(options.ca ? { ca: options.ca } : {}),
    };
    // Constructed directly, not through client.tts.websocket(): that resolves only after open, and an error
    // before then finds no `error` listener, which the SDK turns into an unhandled rejection.
    this.ws = new TTSWS(client, wsOptions);
    // Always attached: without it the SDK turns every error into an unhandled rejection.
    this.ws.on('error', (error) => {
      // Error frames carry their event and arrive through `event` as well.
      if (error.error !== undefined) return;
      const message = error.message;
      if (message.startsWith('could not parse websocket event')) handlers.malformed('a frame that is not JSON');
      else this.lastError = message;
    });
    this.ws.on('event', (event) => handlers.message(event));
    this.raw = this.ws.socket as unknown as NodeWebSocket;
    guardMessageListeners(this.raw, handlers);
    this.raw.on('close', (code: number, reason: Buffer) => {
      handlers.closed({
        code,
        reason: reason.toString(),
        ...(this.upgradeStatus !== undefined && this.upgradeStatus !== 101 ? { upgradeStatus: this.upgradeStatus } : {}),
        ...(this.retryAfterSeconds !== undefined ? { retryAfterSeconds: this.retryAfterSeconds } : {}),
        ...(this.lastError !== undefined ? { error: this.lastError } : {}),
      });
    });
    this.opened = this.ws.connect().then(() => undefined);
    // Failures are reported through `closed`; this only keeps the promise from being unhandled.
    this.opened.catch(() => {});
  }

  isOpen(): boolean {
    return this.raw.readyState === SOCKET_STATE.open;
  }

  /** An SDK context bound to this socket, without the SDK's per-context queue (we route events ourselves). */
  context(options: SDKContextOptions): TTSWSContext {
    return new (loadSDK().TTSWSContext)(this.ws, options);
  }

  close(code = 1000, reason = 'recycled'): void {
    if (this.raw.readyState === SOCKET_STATE.connecting) this.raw.terminate();
    else this.ws.close({ code, reason });
  }

  terminate(): void {
    this.raw.terminate();
  }
}

/**
 * The SDK decodes `chunk` audio inside its socket listener without checking the frame, so a chunk without
 * string `data` throws out of a ws event handler and kills the process. Its listeners run inside a guard.
 */
function guardMessageListeners(raw: NodeWebSocket, handlers: SocketHandlers): void {
  const listeners = raw.listeners('message') as Array<(...args: unknown[]) => void>;
  raw.removeAllListeners('message');
  for (const listener of listeners) {
    raw.on('message', function guarded(this: NodeWebSocket, ...args: unknown[]) {
      try {
        listener.apply(this, args);
      } catch (error) {
        handlers.malformed(`a frame the SDK could not decode (${error instanceof Error ? error.message : String(error)})`);
      }
    });
  }
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The Cartesia API version the SDK sends; REST calls made beside it send the same. */
export const CARTESIA_API_VERSION = '2026-08-14';

export interface RestOptions {
  apiKey: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string;
  timeoutMs: number;
}

/**
 * GET a Cartesia REST resource as JSON, the key in the Authorization header only. Through node:https rather
 * than the SDK's fetch, which cannot be given the CA of a self-hosted or test endpoint.
 */
export function getCartesiaJSON(url: URL, options: RestOptions): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = httpsGet(
      url,
      {
        headers: { authorization: `Bearer ${options.apiKey}`, 'cartesia-version': CARTESIA_API_VERSION, accept: 'application/json' },
        timeout: options.timeoutMs,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          try {
            body = JSON.parse(text);
          } catch {
            body = null;
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    request.on('error', (error) => reject(new Error(error.message)));
  });
}
