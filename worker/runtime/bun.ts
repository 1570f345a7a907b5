/** Bun entry: `bun worker/runtime/bun.ts` serves the relay with Bun.serve and hono/bun's WebSocket helper. */
import type { Server, ServerWebSocket } from 'bun';
import { upgradeWebSocket, websocket } from 'hono/bun';
import type { RuntimeAdapter } from '../app.ts';
import { createRelay } from '../create-relay.ts';
import { createShutdown } from '../shutdown.ts';
import { announceStart, describeStartFailure, exitOnSignal, localUrl } from './lifecycle.ts';

/** Matches the Node entry's ws maxPayload: listeners send nothing, publishers send text a sentence at a time. */
const MAX_INCOMING_MESSAGE_BYTES = 64 * 1024;
/** Bytes per second of the widest listener format (pcm_f32le at 48 kHz), to size Bun's send buffer. */
const MAX_LISTENER_BYTES_PER_SECOND = 4 * 48_000;

let server: Server<unknown> | undefined;

export const bunRuntime: RuntimeAdapter = {
  name: `bun ${Bun.version}`,
  upgradeWebSocket,
  // Hono's WSContext.send hides Bun's backpressure result; the native socket knows what is still queued.
  bufferedAmount: (ws) => (ws.raw as ServerWebSocket<unknown> | undefined)?.getBufferedAmount() ?? 0,
  // Bun cuts a request that is quiet for `idleTimeout` (10 s): a slow streaming upload would end mid-utterance.
  keepRequestAlive: (request) => server?.timeout(request, 0),
};

/** Starts the relay under Bun; exits 1 with one line naming the problem when it cannot. */
export async function runBunRelay(): Promise<void> {
  let instance: Awaited<ReturnType<typeof createRelay>>;
  try {
    instance = await createRelay({ env: process.env, runtime: bunRuntime });
    const { app, config } = instance;
    server = Bun.serve({
      port: config.port,
      hostname: config.host,
      fetch: (request, bunServer) => app.fetch(request, { server: bunServer }),
      websocket: {
        ...websocket,
        maxPayloadLength: MAX_INCOMING_MESSAGE_BYTES,
        // Past this Bun drops messages silently; the fan-out drops a slow listener well before (4008).
        backpressureLimit: Math.max(16 << 20, 2 * config.limits.listenerMaxBufferedSeconds * MAX_LISTENER_BYTES_PER_SECOND),
      },
    });
  } catch (error) {
    process.stderr.write(describeStartFailure(error));
    process.exit(1);
  }
  const running = server;
  announceStart(instance, localUrl(instance.config.host, running.port ?? instance.config.port), bunRuntime.name!, (text) => process.stderr.write(text));

  const shutdown = createShutdown(instance.relay, {
    stopListening: () => {
      running.stop(false).catch((error: unknown) => instance.logger.warn('server stop failed', { error }));
    },
    async closeConnections(graceMs) {
      const deadline = performance.now() + graceMs;
      while (running.pendingWebSockets > 0 && performance.now() < deadline) await Bun.sleep(10);
      await running.stop(true);
    },
  });
  const onSignal = exitOnSignal(instance, shutdown, (code) => process.exit(code));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

if (import.meta.main) await runBunRelay();
