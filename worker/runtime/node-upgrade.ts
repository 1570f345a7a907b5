/**
 * Node's WebSocket upgrade for the relay's socket events. @hono/node-server's own helper keeps, per socket, the whole Hono
 * context of the handshake, Node's IncomingMessage, a URL and a dozen closures for the socket's life; here a socket
 * costs its events' entry in a WeakMap, the events get ws's socket itself, and ws calls three listeners shared by all.
 * The server side (turning the upgrade into a Request, answering refusals, ws's handshake) stays @hono/node-server's.
 */
import type { IncomingMessage } from 'node:http';
import { upgradeWebSocket as honoUpgradeWebSocket } from '@hono/node-server';
import type { Context } from 'hono';
import type { WSContext } from 'hono/ws';
import type { WebSocket } from 'ws';
import type { SocketEvents } from './contract.ts';

/** @hono/node-server's env per upgrade request: the request, and under a private symbol the wait for ws's socket. */
type UpgradeEnv = { incoming?: IncomingMessage } & Record<symbol, unknown>;
type WaitForSocket = (request: IncomingMessage, connection: symbol | undefined) => Promise<WebSocket>;
const WAIT_FOR_SOCKET = 'WAIT_FOR_WEBSOCKET_SYMBOL';

/** Each open socket's events; the events get ws's socket itself. */
const sockets = new WeakMap<WebSocket, SocketEvents>();

export function upgradeWebSocket(c: Context, events: SocketEvents): Response | Promise<Response | undefined> | undefined {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return undefined;
  const env = c.env as UpgradeEnv;
  const key = Object.getOwnPropertySymbols(env).find((symbol) => symbol.description === WAIT_FOR_SOCKET);
  const wait = key && (env[key] as WaitForSocket | undefined);
  // Another @hono/node-server than the one this was written for: its own helper still works, at its memory cost.
  if (!wait || !env.incoming) return honoUpgradeWebSocket(c, throughHono(events)) as Promise<Response | undefined>;
  // The server checks the connection symbol its own helper would have set on env; this one sets none, and waits with none.
  wait(env.incoming, undefined).then(
    (ws) => open(ws, events),
    () => {},
  );
  return new Response();
}

/** The events behind @hono/node-server's own helper, which hands them its WSContext: they get ws's socket, as here. */
function throughHono(events: SocketEvents) {
  const raw = (ws: WSContext<any>) => ws.raw as WebSocket;
  return {
    onOpen: (event: Event, ws: WSContext<any>) => events.onOpen?.(event, raw(ws)),
    onMessage: (event: MessageEvent, ws: WSContext<any>) => events.onMessage?.(event, raw(ws)),
    onClose: (event: CloseEvent, ws: WSContext<any>) => events.onClose?.(event, raw(ws)),
    onError: (event: Event, ws: WSContext<any>) => events.onError?.(event, raw(ws)),
  };
}

function open(ws: WebSocket, events: SocketEvents): void {
  sockets.set(ws, events);
  call(() => events.onOpen?.(new Event('open'), ws));
  ws.on('message', onMessage);
  ws.on('close', onClose);
  ws.on('error', onError);
}

// ws calls its listeners with the socket as `this`.
function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const events = sockets.get(this);
  if (!events) return;
  for (const part of Array.isArray(data) ? data : [data]) {
    const payload = part instanceof ArrayBuffer ? (isBinary ? part : Buffer.from(part).toString('utf8')) : isBinary ? (part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) as ArrayBuffer) : part.toString('utf8');
    call(() => events.onMessage?.(new MessageEvent('message', { data: payload }), this));
  }
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const events = sockets.get(this);
  if (!events) return;
  sockets.delete(this);
  // Node 20 has no CloseEvent: an Event with its fields.
  const event = Object.assign(new Event('close'), { code, reason: reason.toString() }) as unknown as CloseEvent;
  call(() => events.onClose?.(event, this));
}

function onError(this: WebSocket, error: Error): void {
  const events = sockets.get(this);
  if (events) call(() => events.onError?.(Object.assign(new Event('error'), { error }), this));
}

/** Nothing a handler throws may reach ws's emitter (the same rule as @hono/node-server's). */
function call(handler: () => void): void {
  try {
    handler();
  } catch (error) {
    console.error(error);
  }
}
