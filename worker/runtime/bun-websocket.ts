/**
 * Bun's WebSocket handlers for hono's socket events. A socket's data is one BunSocket: the WSContext every event of the
 * socket gets, with its events and the subprotocol answered. hono/bun's handlers make a WSContext (with closures) per
 * event, keep the request's URL per socket, and read readyState once, when each is made.
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

/** What a socket group uses of the Bun server a socket came through: its publish reaches that server's subscribers. */
export interface BunPublisher {
  publish(topic: string, data: string | Uint8Array<ArrayBuffer>): number;
}

/**
 * The init hono's WSContext keeps, one per subprotocol answered ('' or `tts-relay`), shared by every socket: hono reads
 * only its `protocol` and `url`, and what it would call on it a BunSocket does itself on Bun's socket.
 */
const inits = new Map<string, WSContextInit>();

/** A socket's WSContext, made at the upgrade, before Bun's socket exists: `raw` is set when it opens. */
export class BunSocket extends WSContext<ServerWebSocket<BunSocket>> {
  constructor(
    readonly events: WSEvents<any>,
    protocol: string,
    readonly server: BunPublisher,
  ) {
    let init = inits.get(protocol);
    if (!init) inits.set(protocol, (init = { protocol } as WSContextInit));
    super(init as WSContextInit<ServerWebSocket<BunSocket>>);
  }

  override get readyState(): WSReadyState {
    return (this.raw?.readyState ?? SOCKET_STATE.connecting) as WSReadyState;
  }

  override send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>, options?: SendOptions): void {
    this.raw?.send(data, options?.compress);
  }

  override close(code?: number, reason?: string): void {
    this.raw?.close(code, reason);
  }
}

export const bunWebSocketHandlers = {
  open(ws: ServerWebSocket<BunSocket>): void {
    const socket = ws.data;
    socket.raw = ws;
    run(socket, () => socket.events.onOpen?.(new Event('open'), socket));
  },
  message(ws: ServerWebSocket<BunSocket>, message: string | Uint8Array): void {
    const socket = ws.data;
    const data = typeof message === 'string' ? message : (message.buffer as ArrayBuffer);
    run(socket, () => socket.events.onMessage?.(new MessageEvent('message', { data }), socket));
  },
  close(ws: ServerWebSocket<BunSocket>, code: number, reason: string): void {
    const socket = ws.data;
    run(socket, () => socket.events.onClose?.(new CloseEvent('close', { code, reason }), socket));
  },
};

/** Calls one handler; what it throws (or rejects with) goes to the socket's onError, as hono/bun does. */
function run(socket: BunSocket, handler: () => unknown): void {
  const fail = (error: unknown) => {
    const onError = socket.events.onError;
    if (!onError) throw error;
    onError(Object.assign(new Event('error'), { error }), socket);
  };
  try {
    const result = handler();
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}
