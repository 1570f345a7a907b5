/**
 * The runtime contract: what each runtime's entry (bun.ts, deno.ts, node.ts) supplies to the app, and the
 * Hono environment every route shares. It imports nothing of the app but the caller's type, so adapters
 * and routes both depend on it and never on each other (hono's adapters over `helper/websocket`).
 */
import type { Context } from 'hono';
import type { WSMessageReceive } from 'hono/ws';
import type { Principal } from '../security/principal.ts';

/**
 * A WebSocket as the runtime hands it to a route's events: the runtime's own socket (Bun's ServerWebSocket, ws's
 * WebSocket, hono's WSContext on Deno), no wrapper per socket. The app calls only these on it; what else it needs
 * (unsent bytes, pausing, groups) it asks the runtime's adapter, which knows the socket's real type.
 */
export interface RuntimeSocket {
  send(data: string | Uint8Array<ArrayBuffer>): unknown;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
}

/** A socket's events, called by the runtime with the socket; an object per socket, so its handlers may be methods. */
export interface SocketEvents {
  onOpen?(event: Event, ws: RuntimeSocket): void;
  onMessage?(event: MessageEvent<WSMessageReceive>, ws: RuntimeSocket): void;
  onClose?(event: CloseEvent, ws: RuntimeSocket): void;
  onError?(event: Event, ws: RuntimeSocket): void;
}

/** Upgrades the request to a WebSocket whose events go to `events`; the response to answer with, when the runtime needs one. */
export type UpgradeWebSocket = (c: Context, events: SocketEvents) => Response | undefined | Promise<Response | undefined>;

/** What each runtime supplies: its WebSocket upgrade and how to read a socket's unsent bytes. */
export interface RuntimeAdapter {
  /** Runtime and version, e.g. `bun 1.4.5`: logged at start and in the tts_relay_info metric. */
  name?: string;
  upgradeWebSocket: UpgradeWebSocket;
  bufferedAmount(ws: RuntimeSocket): number;
  /** Lifts the server's idle timeout for a long streaming upload (Bun cuts quiet requests after 10 s). */
  keepRequestAlive?(c: Context): void;
  /**
   * The request body as it arrives, where the runtime reads it more cheaply than through `Request.body` (a speak
   * request pays for that on its way to the provider), or all of it at once when it has arrived whole already;
   * undefined, the route reads `c.req.raw.body`.
   */
  requestBody?(c: Context): AsyncIterable<Uint8Array> | Uint8Array | undefined;
  /** The client's network address, for the per-address connection limit; null when unknown. */
  clientAddress?(c: Context): string | null;
  /** Stops reading a socket, so TCP pushes back on a publisher that outruns speech; absent where the runtime cannot. */
  pauseReading?(ws: RuntimeSocket): void;
  resumeReading?(ws: RuntimeSocket): void;
  /** Starts a worker thread, so CPU-bound work (the embedded engine) leaves the event loop; absent, it runs inline. */
  startWorker?: StartWorker;
  /** A new group of this runtime's sockets that takes each message once for all of them; absent, sockets are written one by one. */
  socketGroup?: () => SocketGroup;
  /**
   * Runs the runtime's own code of a first request and a first fan-out once, without a request or a socket
   * (what its adapters load or compile on first use), for the warm-up at start; absent where nothing needs it.
   */
  warmUp?(): Promise<void>;
  /**
   * Serves `fetch` on a private loopback port for the warm-up's requests, so they run this runtime's own HTTP
   * server and adapter (a first request's parsing, request and response code) as a caller's would; absent, the
   * warm-up calls the app directly.
   */
  serveLoopback?(fetch: (request: Request, env?: unknown) => Response | Promise<Response>): Promise<LoopbackServer>;
}

/** A private server on a loopback port that only the warm-up calls. */
export interface LoopbackServer {
  /** Sends one request over a connection of its own, as a new caller's comes; resolves with its status once its body is read. */
  request(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<number>;
  /** Opens a WebSocket to `path` as a listener's comes (absent where the runtime has no client for it); resolves once open. */
  openSocket?(path: string, headers: Record<string, string>, onMessage: (data: string | Uint8Array) => void): Promise<{ close(): void }>;
  close(): Promise<void>;
}

/**
 * Many sockets written at the cost of one: each message framed once and the same bytes written to every
 * socket (Node), or published once to a topic (Bun). A closed socket is skipped; its owner removes it.
 */
export interface SocketGroup {
  add(ws: RuntimeSocket): void;
  delete(ws: RuntimeSocket): void;
  /** Writes one message (text for a string, binary otherwise) to every open socket of the group; returns how many. */
  send(data: string | Uint8Array): number;
  /** `send` has copied the message when it returns (Bun's publish), so the caller may write its next one into the same bytes. */
  readonly copiesOnSend?: boolean;
}

/** What the middleware sets on every request's context: its id and, under /v1, who sent it. */
export type Env = { Variables: { principal: Principal; requestId: string } };

/**
 * The relay's side of a worker thread. The script it runs sees a Web Worker's global scope
 * (`onmessage`, `postMessage(message, transfer)`), whatever the runtime.
 */
export interface WorkerPort {
  /** Sends a structured-cloneable message; buffers listed in `transfer` move to the thread instead of being copied. */
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: unknown) => void): void;
  /** The thread could not start, threw outside any handler, or exited without being asked to. */
  onError(handler: (error: Error) => void): void;
  terminate(): Promise<void> | void;
}

/** Starts a worker thread on a module script (a TypeScript file URL); may throw where the runtime cannot. */
export type StartWorker = (script: URL) => WorkerPort;

/** WebSocket readyState values (the WHATWG numbering every runtime's socket uses). */
export const SOCKET_STATE = { connecting: 0, open: 1, closing: 2, closed: 3 } as const;
