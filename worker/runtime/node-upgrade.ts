/**
 * Node's WebSocket upgrade for hono's socket events. @hono/node-server's own helper keeps, per socket, the whole Hono
 * context of the handshake, Node's IncomingMessage, a URL and a dozen closures for the socket's life; here a socket
 * costs one NodeSocket (a WSContext that is its own init), and ws calls three listeners shared by all sockets.
 * The server side (turning the upgrade into a Request, answering refusals, ws's handshake) stays @hono/node-server's.
 */
import type { IncomingMessage } from 'node:http';
import { upgradeWebSocket as honoUpgradeWebSocket } from '@hono/node-server';
import type { Context } from 'hono';
import { defineWebSocketHelper, type SendOptions, WSContext, type WSContextInit, type WSEvents, type WSReadyState } from 'hono/ws';
import type { WebSocket } from 'ws';

/** @hono/node-server's env per upgrade request: the request, and under a private symbol the wait for ws's socket. */
type UpgradeEnv = { incoming?: IncomingMessage } & Record<symbol, unknown>;
type WaitForSocket = (request: IncomingMessage, connection: symbol | undefined) => Promise<WebSocket>;
const WAIT_FOR_SOCKET = 'WAIT_FOR_WEBSOCKET_SYMBOL';

/**
 * A socket's WSContext, with ws's socket as the init hono's class keeps (it reads only `protocol` and `url` of it, and a
 * server's ws has no url): what hono would call on the init, it does here on ws, so a socket needs no second object.
 */
class NodeSocket extends WSContext<WebSocket> {
  constructor(
    ws: WebSocket,
    readonly events: WSEvents<any>,
  ) {
    super(ws as unknown as WSContextInit<WebSocket>);
    this.raw = ws;
  }

  override get readyState(): WSReadyState {
    return this.raw!.readyState as WSReadyState;
  }

  override send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, options?: SendOptions): void {
    this.raw!.send(data, { compress: options?.compress });
  }

  override close(code?: number, reason?: string): void {
    this.raw!.close(code, reason);
  }
}

const sockets = new WeakMap<WebSocket, NodeSocket>();

export const upgradeWebSocket = defineWebSocketHelper((c: Context, events: WSEvents<any>, options?: unknown) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
  const env = c.env as UpgradeEnv;
  const key = Object.getOwnPropertySymbols(env).find((symbol) => symbol.description === WAIT_FOR_SOCKET);
  const wait = key && (env[key] as WaitForSocket | undefined);
  // Another @hono/node-server than the one this was written for: its own helper still works, at its memory cost.
  if (!wait || !env.incoming) return honoUpgradeWebSocket(c, events, options as never);
  // The server checks the connection symbol its own helper would have set on env; this one sets none, and waits with none.
  wait(env.incoming, undefined).then(
    (ws) => open(ws, events),
    () => {},
  );
  return new Response();
});

function open(ws: WebSocket, events: WSEvents<any>): void {
  const socket = new NodeSocket(ws, events);
  sockets.set(ws, socket);
  call(() => events.onOpen?.(new Event('open'), socket));
  ws.on('message', onMessage);
  ws.on('close', onClose);
  ws.on('error', onError);
}

// ws calls its listeners with the socket as `this`.
function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const socket = sockets.get(this);
  if (!socket) return;
  for (const part of Array.isArray(data) ? data : [data]) {
    const payload = part instanceof ArrayBuffer ? (isBinary ? part : Buffer.from(part).toString('utf8')) : isBinary ? (part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) as ArrayBuffer) : part.toString('utf8');
    call(() => socket.events.onMessage?.(new MessageEvent('message', { data: payload }), socket));
  }
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const socket = sockets.get(this);
  if (!socket) return;
  sockets.delete(this);
  // Node 20 has no CloseEvent: an Event with its fields.
  const event = Object.assign(new Event('close'), { code, reason: reason.toString() }) as unknown as CloseEvent;
  call(() => socket.events.onClose?.(event, socket));
}

function onError(this: WebSocket, error: Error): void {
  const socket = sockets.get(this);
  if (socket) call(() => socket.events.onError?.(Object.assign(new Event('error'), { error }), socket));
}

/** Nothing a handler throws may reach ws's emitter (the same rule as @hono/node-server's). */
function call(handler: () => void): void {
  try {
    handler();
  } catch (error) {
    console.error(error);
  }
}
