/** Node entry: serves the relay with @hono/node-server and ws. Run directly, or start in-process with startNodeRelay. */
import type { IncomingMessage } from 'node:http';
import { type AddressInfo } from 'node:net';
import { serve, upgradeWebSocket } from '@hono/node-server';
import { WebSocketServer, type WebSocket } from 'ws';
import { createRelay, type RelayInstance } from '../create-relay.ts';
import type { RuntimeAdapter } from '../app.ts';
import { selectSubprotocol } from '../auth.ts';

export const nodeRuntime: RuntimeAdapter = {
  upgradeWebSocket,
  bufferedAmount: (ws) => (ws.raw as WebSocket | undefined)?.bufferedAmount ?? 0,
  clientAddress: (c) => (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress ?? null,
};

export interface StartOptions {
  port?: number;
  host?: string;
  env?: Record<string, string | undefined>;
  quiet?: boolean;
  writeLog?: (line: string) => void;
}

export interface RunningRelay extends RelayInstance {
  url: string;
  adminKey: string;
  close(): Promise<void>;
}

export async function startNodeRelay(options: StartOptions = {}): Promise<RunningRelay> {
  const env = { ...process.env, ...options.env };
  if (options.port !== undefined) env.PORT = String(options.port);
  if (options.host !== undefined) env.HOST = options.host;
  const instance = await createRelay({ env, runtime: nodeRuntime, ...(options.quiet ? { quiet: true } : {}), ...(options.writeLog ? { writeLog: options.writeLog } : {}) });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: instance.config.limits.maxFrameBytes,
    // A browser's token rides in the offer as `tts-relay.token.<jwt>`: answer `tts-relay`, never echo the token.
    handleProtocols: (offered) => selectSubprotocol(offered) ?? false,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    // Node ends any request still uploading after 300 s; a slow LLM may speak longer. RELAY_UPLOAD_IDLE_MS guards quiet uploads instead.
    const serverOptions = { requestTimeout: 0 };
    const s = serve({ fetch: instance.app.fetch, port: instance.config.port, hostname: instance.config.host, websocket: { server: wss }, serverOptions }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const host = instance.config.host === '0.0.0.0' ? '127.0.0.1' : instance.config.host;
  let closing: Promise<void> | null = null;
  return {
    ...instance,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    adminKey: instance.config.adminKeys[0]!,
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

/** Runs the relay as a process: listens, prints a generated key, and shuts down on SIGINT/SIGTERM. */
export async function runNodeRelay(): Promise<void> {
  let relay: RunningRelay;
  try {
    relay = await startNodeRelay();
  } catch (error) {
    process.stderr.write(`tts-relay: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  relay.logger.info('relay listening', { url: relay.url, provider: relay.relay.provider.name, runtime: `node ${process.version}` });
  if (relay.config.adminKeyGenerated) {
    process.stderr.write(`\nNo RELAY_ADMIN_KEY set; generated one for this process:\n\n  RELAY_ADMIN_KEY=${relay.adminKey}\n\n`);
  }
  const shutdown = () => {
    relay.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
