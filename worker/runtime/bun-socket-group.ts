/**
 * Bun's socket group: a topic of its own that every socket of the group subscribes to, and one
 * `server.publish` per message — Bun frames it once and writes it to every subscriber natively. Publish
 * reports no per-subscriber backpressure, so slow readers are found by the listener hub's sweep of each
 * socket's `getBufferedAmount()` (Bun still counts published bytes a subscriber has not taken).
 */
import type { Server, ServerWebSocket } from 'bun';
import { type RuntimeSocket, SOCKET_STATE, type SocketGroup } from './contract.ts';

let groups = 0;

/** `serverOf` names the server a socket came through (the relay's, or the warm-up's loopback): a topic is per server. */
export function bunSocketGroup(serverOf: (ws: ServerWebSocket<unknown>) => Server<unknown> | undefined): SocketGroup {
  const topic = `tts-relay.group.${++groups}`;
  // Bun unsubscribes a socket when it closes; the count follows the hub's add/delete.
  let members = 0;
  let server: Server<unknown> | undefined;
  // The relay's events get Bun's own socket (bun-websocket.ts).
  const native = (ws: RuntimeSocket) => ws as ServerWebSocket<unknown>;
  return {
    add(ws) {
      const socket = native(ws);
      socket.subscribe(topic);
      server ??= serverOf(socket);
      members++;
    },
    delete(ws) {
      const socket = native(ws);
      if (socket.readyState === SOCKET_STATE.open) socket.unsubscribe(topic);
      members--;
    },
    send(data) {
      if (!server || members === 0) return 0;
      server.publish(topic, data as string | Uint8Array<ArrayBuffer>);
      return members;
    },
    // uWS copies a published message into each subscriber's buffer (or its topic's queue) before publish returns.
    copiesOnSend: true,
  };
}
