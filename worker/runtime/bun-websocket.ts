/**
 * Bun's WebSocket handlers for the relay's socket events. A socket's data is its events; every event gets Bun's own
 * socket, which is the runtime socket the app writes to: nothing per socket beyond what Bun keeps and the events.
 */
import type { RuntimeSocket, SocketEvents } from './contract.ts';

/** What these handlers use of Bun's ServerWebSocket (typed here so the file needs no bun-types). */
interface ServerWebSocket extends RuntimeSocket {
  readonly data: SocketEvents;
}

export const bunWebSocketHandlers = {
  open(ws: ServerWebSocket): void {
    run(ws, () => ws.data.onOpen?.(new Event('open'), ws));
  },
  message(ws: ServerWebSocket, message: string | Uint8Array): void {
    const data = typeof message === 'string' ? message : (message.buffer as ArrayBuffer);
    run(ws, () => ws.data.onMessage?.(new MessageEvent('message', { data }), ws));
  },
  close(ws: ServerWebSocket, code: number, reason: string): void {
    run(ws, () => ws.data.onClose?.(new CloseEvent('close', { code, reason }), ws));
  },
};

/** Calls one handler; what it throws (or rejects with) goes to the socket's onError, as hono/bun does. */
function run(ws: ServerWebSocket, handler: () => unknown): void {
  const fail = (error: unknown) => {
    const events = ws.data;
    if (!events.onError) throw error;
    events.onError(Object.assign(new Event('error'), { error }), ws);
  };
  try {
    const result = handler();
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}
