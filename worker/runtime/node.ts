/** Node entry: serves the relay with @hono/node-server and ws. Run directly, or start in-process with startNodeRelay. */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer as createHTTPSServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConfigError } from '../ops/config.ts';
import { createRelay, type RelayInstance } from '../create-relay.ts';
import type { RuntimeAdapter, RuntimeSocket } from './contract.ts';
import { selectSubprotocol } from '../security/auth.ts';
import { createShutdown, type ShutdownReport } from '../ops/shutdown.ts';
import { announceStart, describeStartFailure, exitOnSignal } from './lifecycle.ts';
import { withDotEnv } from './dotenv.ts';
import { startNodeWorker } from './node-worker.ts';
import { nodeSocketGroup } from './node-socket-group.ts';
import { upgradeWebSocket } from './node-upgrade.ts';
import { warmUpNode } from './node-warm-up.ts';
import { pinHeapGrowth } from './node-heap.ts';
import { serveNodeLoopback } from './node-loopback.ts';

/**
 * How long an idle kept-alive HTTP connection stays open. Node's 5 s default closed the connection of a caller
 * speaking every few seconds, whose next utterance then paid a new TCP connection before the relay read its text
 * (1.4 ms against 0.35 ms from the caller's write to the request at 100 streams). Above the 60 s idle timeouts of
 * common load balancers, so they, not the relay, close an idle connection; idle sockets hold no connection slot.
 */
const KEEP_ALIVE_MS = 65_000;

/** The events get ws's socket itself (node-upgrade.ts). */
const native = (ws: RuntimeSocket) => ws as WebSocket;

export const nodeRuntime: RuntimeAdapter = {
  name: `node ${process.versions.node}`,
  upgradeWebSocket,
  bufferedAmount: (ws) => native(ws).bufferedAmount,
  clientAddress: (c) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    return incoming ? clientAddressOf(incoming) : null;
  },
  requestBody: (c) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming) return undefined;
    // A short body usually comes in the headers' packet, so it is all buffered by the time the route reads it:
    // taken in one piece, without a stream iterator, an idle timer and a turn per chunk.
    if (arrivedWhole(incoming)) return (incoming.read() as Buffer | null) ?? new Uint8Array(0);
    // Straight off the IncomingMessage: @hono/node-server's Request.body builds an undici Request and two web streams
    // over it (~0.3 ms a request). Not destroyed on return, like a released web-stream reader: the server drains the rest.
    return incoming.iterator({ destroyOnReturn: false });
  },
  // ws stops reading the TCP socket; frames it had already read are still delivered.
  pauseReading: (ws) => native(ws).pause(),
  resumeReading: (ws) => native(ws).resume(),
  startWorker: startNodeWorker,
  socketGroup: nodeSocketGroup,
  warmUp: warmUpNode,
  serveLoopback: serveNodeLoopback,
};

/** Whether the request's whole body is buffered already: as many bytes as its Content-Length declares. */
function arrivedWhole(incoming: IncomingMessage): boolean {
  const declared = incoming.headers['content-length'];
  return declared !== undefined && Number(declared) === incoming.readableLength;
}

/**
 * Each kept-alive HTTP connection's peer address, read on its first request: the next ones on it skip the socket call.
 * Not kept for a WebSocket upgrade, whose socket becomes a listener's for hours.
 */
const connectionAddresses = new WeakMap<Socket, string | null>();

function clientAddressOf(incoming: IncomingMessage): string | null {
  if (incoming.headers.upgrade !== undefined) return peerAddress(incoming.socket);
  let address = connectionAddresses.get(incoming.socket);
  if (address === undefined) connectionAddresses.set(incoming.socket, (address = peerAddress(incoming.socket)));
  return address;
}

/**
 * The peer's address, read from the socket's handle: `remoteAddress` caches it on the socket (an object and a string
 * for the connection's life, ~70 bytes a listener) where the connection limiter needs it once.
 */
function peerAddress(socket: Socket | undefined): string | null {
  const handle = (socket as { _handle?: { getpeername?(out: { address?: string }): number } } | undefined)?._handle;
  if (!handle?.getpeername) return socket?.remoteAddress ?? null;
  const out: { address?: string } = {};
  return handle.getpeername(out) === 0 ? (out.address ?? null) : null;
}

export interface StartOptions {
  port?: number;
  host?: string;
  env?: Record<string, string | undefined>;
  quiet?: boolean;
  writeLog?: (line: string) => void;
  /** Also read `.env` in the working directory (the process entry does; tests do not). */
  dotenv?: boolean;
}

export interface RunningRelay extends RelayInstance {
  url: string;
  adminKey: string;
  /** Graceful: refuse new work, drain within RELAY_DRAIN_MS, close listeners with 1001, stop the server. */
  shutdown(signal: string): Promise<ShutdownReport>;
  /** Immediate: cancel everything and stop. */
  close(): Promise<void>;
}

export async function startNodeRelay(options: StartOptions = {}): Promise<RunningRelay> {
  pinHeapGrowth();
  const dotenv = options.dotenv ? withDotEnv(process.env) : { env: process.env, loaded: null };
  const env = { ...dotenv.env, ...options.env };
  if (options.port !== undefined) env.PORT = String(options.port);
  if (options.host !== undefined) env.HOST = options.host;
  const instance = await createRelay({ env, runtime: nodeRuntime, dotenv: dotenv.loaded, ...(options.quiet ? { quiet: true } : {}), ...(options.writeLog ? { writeLog: options.writeLog } : {}) });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: instance.config.limits.maxFrameBytes,
    // A browser's token rides in the offer as `tts-relay.token.<jwt>`: answer `tts-relay` when it is offered too.
    handleProtocols: (offered) => selectSubprotocol(offered) ?? false,
  });
  const { tls } = instance.config;
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    // Node ends any request still uploading after 300 s; a slow LLM may speak longer. RELAY_UPLOAD_IDLE_MS guards quiet
    // uploads instead. Headers keep their 60 s: Node's default would follow requestTimeout down to 0, i.e. never.
    const serverOptions = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: KEEP_ALIVE_MS, ...(tls ? readTLSFiles(tls) : {}) };
    const s = serve({ fetch: instance.app.fetch, port: instance.config.port, hostname: instance.config.host, websocket: { server: wss }, serverOptions, ...(tls ? { createServer: createHTTPSServer } : {}) }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const host = instance.config.host === '0.0.0.0' ? '127.0.0.1' : instance.config.host;
  let closing: Promise<void> | null = null;
  let serverClosed = false;
  const shutdown = createShutdown(instance.relay, {
    stopListening: () => server.close(() => (serverClosed = true)),
    async closeConnections(graceMs) {
      const deadline = performance.now() + graceMs;
      const tick = () => new Promise((resolve) => setTimeout(resolve, 10));
      while (wss.clients.size > 0 && performance.now() < deadline) await tick();
      for (const client of wss.clients) client.terminate();
      // A response still being written (a ?wait=true speak that just ended) gets to finish; idle sockets go.
      const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
      while (!serverClosed && performance.now() < deadline) {
        http.closeIdleConnections?.();
        await tick();
      }
      http.closeAllConnections?.();
    },
  });
  return {
    ...instance,
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    adminKey: instance.config.adminKeys[0]!,
    shutdown,
    close() {
      closing ??= (async () => {
        await instance.relay.close();
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      })();
      return closing;
    },
  };
}

function readTLSFiles(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (variable: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(variable, `cannot read ${path} (${error instanceof Error ? error.message : String(error)})`);
    }
  };
  return { cert: read('TLS_CERT_FILE', tls.certFile), key: read('TLS_KEY_FILE', tls.keyFile) };
}

/** Runs the relay as a process: listens, prints a generated key, and drains gracefully on SIGINT/SIGTERM. */
export async function runNodeRelay(): Promise<void> {
  let relay: RunningRelay;
  try {
    relay = await startNodeRelay({ dotenv: true });
  } catch (error) {
    process.stderr.write(describeStartFailure(error));
    process.exit(1);
  }
  announceStart(relay, relay.url, nodeRuntime.name!, (text) => process.stderr.write(text));
  const onSignal = exitOnSignal(relay, relay.shutdown, (code) => process.exit(code));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}
