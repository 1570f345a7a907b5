/** Bun entry: `bun worker/runtime/bun.ts` serves the relay with Bun.serve and the relay's own WebSocket handlers (bun-websocket.ts). */
import { readFileSync } from 'node:fs';
import type { Server, ServerWebSocket } from 'bun';
import type { Context } from 'hono';
import type { RuntimeAdapter, RuntimeSocket, UpgradeWebSocket } from './contract.ts';
import { createRelay, type RelayInstance } from '../create-relay.ts';
import { createShutdown } from '../ops/shutdown.ts';
import { announceStart, describeStartFailure, exitOnSignal, localUrl, readPem } from './lifecycle.ts';
import { answerSubprotocol } from './subprotocol.ts';
import { withDotEnv } from './dotenv.ts';
import { startWebWorker } from './web-worker.ts';
import { bunSocketGroup } from './bun-socket-group.ts';
import { bunWebSocketHandlers } from './bun-websocket.ts';
import { loopbackServerOf, serveBunLoopback } from './bun-loopback.ts';

/** Bytes per second of the widest listener format (pcm_f32le at 48 kHz), to size Bun's send buffer. */
const MAX_LISTENER_BYTES_PER_SECOND = 4 * 48_000;

/** The Bun server a request came through: app.fetch gets it as `env.server` (the relay's, or the warm-up's loopback). */
const serverOf = (c: Context) => (c.env as { server?: Server<unknown> } | undefined)?.server;

/** The relay's own server, once it serves: a socket group publishes on it unless its sockets came through the loopback. */
let relayServer: Server<unknown> | undefined;

/**
 * Bun's upgrade, with the socket's events as its data (what bun-websocket.ts's handlers read), and the subprotocol
 * answer: Bun would echo the first protocol offered, which may be a browser's token (`tts-relay.token.<jwt>`).
 */
const upgradeWebSocket: UpgradeWebSocket = (c, events) => {
  const bunServer = serverOf(c);
  if (!bunServer) throw new TypeError('The Bun server must be passed to app.fetch as env.server.');
  const protocol = answerSubprotocol(c.req.header('sec-websocket-protocol'));
  const upgraded = bunServer.upgrade(c.req.raw, {
    data: events,
    ...(protocol ? { headers: { 'Sec-WebSocket-Protocol': protocol } } : {}),
  });
  return upgraded ? new Response(null) : undefined;
};

/** The events get Bun's own socket (bun-websocket.ts). */
const native = (ws: RuntimeSocket) => ws as ServerWebSocket<unknown>;

export const bunRuntime: RuntimeAdapter = {
  name: `bun ${Bun.version}`,
  upgradeWebSocket,
  bufferedAmount: (ws) => native(ws).getBufferedAmount(),
  // Bun cuts a request that is quiet for `idleTimeout` (10 s): a slow streaming upload would end mid-utterance.
  keepRequestAlive: (c) => serverOf(c)?.timeout(c.req.raw, 0),
  // Bun stops reading the TCP socket; messages it had already read are still delivered.
  pauseReading: (ws) => native(ws).pause(),
  resumeReading: (ws) => native(ws).resume(),
  clientAddress: (c) => serverOf(c)?.requestIP(c.req.raw)?.address ?? null,
  startWorker: startWebWorker,
  // One topic per format channel: a message is published once and Bun writes it to every subscriber.
  socketGroup: () => bunSocketGroup((ws) => loopbackServerOf(ws) ?? relayServer),
  serveLoopback: serveBunLoopback,
};

/** Starts the relay under Bun; exits 1 with one line naming the problem when it cannot. */
export async function runBunRelay(): Promise<void> {
  let instance: RelayInstance;
  let running: Server<unknown>;
  try {
    const { env, loaded } = withDotEnv(process.env);
    instance = await createRelay({ env, runtime: bunRuntime, dotenv: loaded });
    const { app, config } = instance;
    const readText = (path: string) => readFileSync(path, 'utf8');
    running = relayServer = Bun.serve({
      port: config.port,
      hostname: config.host,
      fetch: (request, bunServer) => app.fetch(request, { server: bunServer }),
      websocket: {
        ...bunWebSocketHandlers,
        maxPayloadLength: config.limits.maxFrameBytes,
        // Past this Bun drops messages silently; the fan-out drops a slow listener well before (4008).
        backpressureLimit: Math.max(16 << 20, 2 * config.limits.listenerMaxBufferedSeconds * MAX_LISTENER_BYTES_PER_SECOND),
      },
      ...(config.tls ? { tls: { cert: readPem('TLS_CERT_FILE', config.tls.certFile, readText), key: readPem('TLS_KEY_FILE', config.tls.keyFile, readText) } } : {}),
    });
  } catch (error) {
    process.stderr.write(describeStartFailure(error));
    process.exit(1);
  }
  const url = localUrl(instance.config.host, running.port ?? instance.config.port, instance.config.tls !== undefined);
  announceStart(instance, url, bunRuntime.name!, (text) => process.stderr.write(text));

  const shutdown = createShutdown(instance.relay, {
    stopListening: () => {
      running.stop(false).catch((error: unknown) => instance.logger.warn('server stop failed', { error }));
    },
    async closeConnections(graceMs) {
      const deadline = performance.now() + graceMs;
      // Sockets answer the 1001 close; a response still being written (a ?wait=true speak that just ended) finishes.
      while ((running.pendingWebSockets > 0 || running.pendingRequests > 0) && performance.now() < deadline) await Bun.sleep(10);
      await running.stop(true);
    },
  });
  const onSignal = exitOnSignal(instance, shutdown, (code) => process.exit(code));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

if (import.meta.main) await runBunRelay();
