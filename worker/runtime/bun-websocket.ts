/**
 * Bun's WebSocket handlers for hono's socket events. A socket's data is one BunSocket: its events, the subprotocol
 * answered and, once open, the one WSContext every event of the socket gets. hono/bun's handlers make a WSContext
 * (with closures) per event, keep the request's URL per socket, and read readyState once, when each is made.
 */
import { type SendOptions, WSContext, type WSContextInit, type WSEvents, type WSReadyState } from 'hono/ws';
import { SOCKET_STATE } from './contract.ts';

/** What these handlers use of Bun's ServerWebSocket (typed here so the file needs no bun-types). */
interface ServerWebSocket<T> {
  readonly data: T;
  readonly readyState: number;
  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, compress?: boolean): number;
  close(code?: number, reason?: string): void;
}

export class BunSocket implements WSContextInit<ServerWebSocket<BunSocket>> {
  raw: ServerWebSocket<BunSocket> | undefined = undefined;
  context: WSContext<ServerWebSocket<BunSocket>> | undefined = undefined;

  constructor(
    readonly events: WSEvents<any>,
    readonly protocol: string,
  ) {}

  get readyState(): WSReadyState {
    return (this.raw?.readyState ?? SOCKET_STATE.connecting) as WSReadyState;
  }

  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, options: SendOptions): void {
    this.raw?.send(data, options.compress);
  }

  close(code?: number, reason?: string): void {
    this.raw?.close(code, reason);
  }
}

export const bunWebSocketHandlers = {
  open(ws: ServerWebSocket<BunSocket>): void {
    const socket = ws.data;
    socket.raw = ws;
    const context = (socket.context = new WSContext(socket));
    run(socket, () => socket.events.onOpen?.(new Event('open'), context));
  },
  message(ws: ServerWebSocket<BunSocket>, message: string | Uint8Array): void {
    const socket = ws.data;
    const data = typeof message === 'string' ? message : (message.buffer as ArrayBuffer);
    run(socket, () => socket.events.onMessage?.(new MessageEvent('message', { data }), socket.context!));
  },
  close(ws: ServerWebSocket<BunSocket>, code: number, reason: string): void {
    const socket = ws.data;
    run(socket, () => socket.events.onClose?.(new CloseEvent('close', { code, reason }), socket.context!));
  },
};

/** Calls one handler; what it throws (or rejects with) goes to the socket's onError, as hono/bun does. */
function run(socket: BunSocket, handler: () => unknown): void {
  const fail = (error: unknown) => {
    const onError = socket.events.onError;
    if (!onError) throw error;
    onError(Object.assign(new Event('error'), { error }), socket.context!);
  };
  try {
    const result = handler();
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}
