/**
 * Deno entry: `deno run --config worker/deno.json --allow-net --allow-env --allow-read worker/runtime/deno.ts`
 * serves the relay with Deno.serve on PORT/HOST. For `deno serve` and Deno Deploy, see deno-serve.ts.
 */
import { upgradeWebSocket } from 'hono/deno';
import type { RuntimeAdapter } from '../app.ts';
import { createRelay, type RelayInstance } from '../create-relay.ts';
import { createShutdown, type ServerControl } from '../shutdown.ts';
import { announceStart, describeStartFailure, exitOnSignal, localUrl } from './lifecycle.ts';

export const denoRuntime: RuntimeAdapter = {
  name: `deno ${Deno.version.deno}`,
  upgradeWebSocket,
  bufferedAmount: (ws) => (ws.raw as WebSocket | undefined)?.bufferedAmount ?? 0,
};

/** Builds the relay from the process environment, or exits 1 with one line naming the problem. */
export async function createDenoRelay(): Promise<RelayInstance> {
  try {
    return await createRelay({ env: Deno.env.toObject(), runtime: denoRuntime });
  } catch (error) {
    writeStderr(describeStartFailure(error));
    Deno.exit(1);
  }
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
    server = Deno.serve(
      {
        port: config.port,
        hostname: config.host,
        onListen: (addr) => announceStart(instance, localUrl(config.host, addr.port), denoRuntime.name!, writeStderr),
      },
      instance.app.fetch,
    );
  } catch (error) {
    writeStderr(describeStartFailure(error));
    Deno.exit(1);
  }
  let finished: Promise<void> | null = null;
  exitOnDenoSignals(instance, {
    // shutdown() stops accepting at once and resolves when the last connection is gone.
    stopListening: () => {
      finished = server.shutdown().catch((error: unknown) => instance.logger.warn('server shutdown failed', { error }));
    },
    async closeConnections(graceMs) {
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, graceMs))]);
    },
  });
}

if (import.meta.main) await runDenoRelay();
