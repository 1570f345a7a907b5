/**
 * Deno entry: `deno run --config worker/deno.json --allow-net --allow-env --allow-read worker/runtime/deno.ts`
 * serves the relay with Deno.serve on PORT/HOST. For `deno serve` and Deno Deploy, see deno-serve.ts.
 */
import { upgradeWebSocket } from 'hono/deno';
import type { WSContext } from 'hono/ws';
import { RelayError } from '../../shared/errors.ts';
import type { RuntimeAdapter, RuntimeSocket, UpgradeWebSocket } from './contract.ts';
import { createRelay, type RelayInstance } from '../create-relay.ts';
import { createShutdown, type ServerControl } from '../ops/shutdown.ts';
import { announceStart, describeStartFailure, exitOnSignal, localUrl, readPem } from './lifecycle.ts';
import { answerSubprotocol } from './subprotocol.ts';
import { withDotEnv } from './dotenv.ts';
import { startWebWorker } from './web-worker.ts';

/** WebSockets open now: a shutdown lets their closing handshakes finish before the server goes. */
let openSockets = 0;

/**
 * hono/deno's upgrade, counting open sockets, and answering the subprotocol the relay picks: hono/deno
 * would answer the first one offered, which may be a browser's token (`tts-relay.token.<jwt>`).
 */
const countingUpgradeWebSocket: UpgradeWebSocket = (c, events) => {
  const offer = c.req.header('sec-websocket-protocol');
  const protocol = answerSubprotocol(offer);
  // Deno accepts an answer only from the offer split on ", " (as browsers send it), not on a bare ",".
  if (protocol && !offer!.split(', ').includes(protocol)) {
    throw new RelayError('bad_request', 'Separate the Sec-WebSocket-Protocol entries with ", " (comma and space).');
  }
  return upgradeWebSocket(
    c,
    {
      // Called as methods, not spread: the events may be a class instance with its handlers on the prototype.
      onOpen(event, ws) {
        openSockets++;
        events.onOpen?.(event, ws);
      },
      onMessage: (event, ws) => events.onMessage?.(event, ws),
      onClose(event, ws) {
        openSockets--;
        events.onClose?.(event, ws);
      },
      onError: (event, ws) => events.onError?.(event, ws),
    },
    protocol ? { protocol } : {},
  ) as Promise<Response | undefined>;
};

export const denoRuntime: RuntimeAdapter = {
  name: `deno ${Deno.version.deno}`,
  upgradeWebSocket: countingUpgradeWebSocket,
  // Deno's runtime socket is hono/deno's WSContext, around Deno's WebSocket.
  bufferedAmount: (ws: RuntimeSocket) => ((ws as WSContext<WebSocket>).raw?.bufferedAmount ?? 0),
  // app.fetch gets Deno.serve's handler info as its env.
  clientAddress: (c) => {
    const addr = (c.env as Deno.ServeHandlerInfo<Deno.NetAddr> | undefined)?.remoteAddr;
    return addr?.transport === 'tcp' ? addr.hostname : null;
  },
  startWorker: startWebWorker,
};

/** Builds the relay from the process environment, or exits 1 with one line naming the problem. */
export async function createDenoRelay(): Promise<RelayInstance> {
  try {
    const { env, loaded } = withDotEnv(Deno.env.toObject());
    return await createRelay({ env, runtime: denoRuntime, dotenv: loaded });
  } catch (error) {
    writeStderr(describeStartFailure(error));
    Deno.exit(1);
  }
}

/** Resolves once every WebSocket has closed, or after `ms`. */
export async function socketsClosed(ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (openSockets > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Drains on SIGTERM/SIGINT and exits 0 (1 on a second signal or an overrun). */
export function exitOnDenoSignals(instance: RelayInstance, server: ServerControl): void {
  const onSignal = exitOnSignal(instance, createShutdown(instance.relay, server), (code) => Deno.exit(code));
  Deno.addSignalListener('SIGINT', () => onSignal('SIGINT'));
  Deno.addSignalListener('SIGTERM', () => onSignal('SIGTERM'));
}

export function writeStderr(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}

async function runDenoRelay(): Promise<void> {
  const instance = await createDenoRelay();
  const { config } = instance;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    const tls = config.tls
      ? { cert: readPem('TLS_CERT_FILE', config.tls.certFile, Deno.readTextFileSync), key: readPem('TLS_KEY_FILE', config.tls.keyFile, Deno.readTextFileSync) }
      : {};
    server = Deno.serve(
      {
        port: config.port,
        hostname: config.host,
        ...tls,
        onListen: (addr) => announceStart(instance, localUrl(config.host, addr.port, config.tls !== undefined), denoRuntime.name!, writeStderr),
      },
      instance.app.fetch,
    );
  } catch (error) {
    writeStderr(describeStartFailure(error));
    Deno.exit(1);
  }
  exitOnDenoSignals(instance, {
    // Deno's shutdown() would also close every WebSocket at once (1001 "Server shutting down"), cutting
    // the utterances the drain lets finish: until then the app refuses new work (503 shutting_down) instead.
    stopListening: () => {},
    async closeConnections(graceMs) {
      const started = performance.now();
      await socketsClosed(graceMs);
      const closed = server.shutdown().catch((error: unknown) => instance.logger.warn('server shutdown failed', { error }));
      const left = Math.max(0, graceMs - (performance.now() - started));
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, left))]);
    },
  });
}

if (import.meta.main) await runDenoRelay();
