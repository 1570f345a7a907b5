/**
 * Bun's private loopback server for the warm-up (RuntimeAdapter.serveLoopback): Bun.serve with the relay's own
 * WebSocket handlers, so a rehearsed request runs Bun's HTTP server, its Request and the body stream as a caller's
 * does, and a rehearsed listener runs the upgrade, the socket's open and the socket group's publish to a real TCP
 * socket. Its requests carry `{ server }` as their env, as the relay's do: the adapter reads the server from there.
 */
import type { Server } from 'bun';
import type { LoopbackServer } from './contract.ts';
import { bunWebSocketHandlers } from './bun-websocket.ts';

// Bun's client takes headers; bun-types gives way to lib.dom's constructor, which does not, where both are loaded.
const BunWebSocket = WebSocket as unknown as new (url: string, options: Bun.WebSocketOptions) => WebSocket;

/** Sockets that came through a loopback server, and that server (a handful, during the warm-up). */
const loopbackSockets = new WeakMap<object, Server<unknown>>();

/** The loopback server `ws` came through, if it did. */
export const loopbackServerOf = (ws: object): Server<unknown> | undefined => loopbackSockets.get(ws);

export async function serveBunLoopback(appFetch: (request: Request, env?: unknown) => Response | Promise<Response>): Promise<LoopbackServer> {
  const server: Server<unknown> = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (request, bunServer) => appFetch(request, { server: bunServer }),
    websocket: {
      ...bunWebSocketHandlers,
      open(ws) {
        loopbackSockets.set(ws, server);
        bunWebSocketHandlers.open(ws);
      },
    },
  });
  const base = `127.0.0.1:${server.port}`;
  const clients = new Set<WebSocket>();
  return {
    async request(path, init) {
      // Not from fetch's pool of kept-alive connections: each request opens its own, as a new caller's does.
      const response = await fetch(`http://${base}${path}`, { ...init, keepalive: false });
      await response.arrayBuffer();
      return response.status;
    },
    openSocket: (path, headers, onMessage) =>
      new Promise((resolve, reject) => {
        const socket = new BunWebSocket(`ws://${base}${path}`, { headers });
        socket.binaryType = 'arraybuffer';
        clients.add(socket);
        socket.addEventListener('message', (event) => onMessage(typeof event.data === 'string' ? event.data : new Uint8Array(event.data as ArrayBuffer)));
        socket.addEventListener('open', () => resolve({ close: () => socket.close() }), { once: true });
        socket.addEventListener('error', () => reject(new Error(`the loopback listener on ${path} failed to open`)), { once: true });
      }),
    async close() {
      for (const socket of clients) socket.close();
      await server.stop(true);
    },
  };
}
