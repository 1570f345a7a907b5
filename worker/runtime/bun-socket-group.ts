/**
 * Bun's socket group: a topic of its own that every socket of the group subscribes to, and one
 * `server.publish` per message — Bun frames it once and writes it to every subscriber natively. Publish
 * reports no per-subscriber backpressure, so slow readers are found by the listener hub's sweep of each
 * socket's `getBufferedAmount()` (Bun still counts published bytes a subscriber has not taken).
 */
import type { ServerWebSocket } from 'bun';
import type { WSContext } from 'hono/ws';
import { SOCKET_STATE, type SocketGroup } from './contract.ts';
import type { BunPublisher, BunSocket } from './bun-websocket.ts';

let groups = 0;

export function bunSocketGroup(): SocketGroup {
  const topic = `tts-relay.group.${++groups}`;
  // Bun unsubscribes a socket when it closes; the count follows the hub's add/delete.
  let members = 0;
  // The server the group's sockets came through (the relay's, or the warm-up's loopback): a topic is per server.
  let server: BunPublisher | undefined;
  const raw = (ws: WSContext<any>) => ws.raw as ServerWebSocket<unknown> | undefined;
  return {
    add(ws) {
      raw(ws)?.subscribe(topic);
      server ??= (ws as BunSocket).server;
      members++;
    },
    delete(ws) {
      const socket = raw(ws);
      if (socket && socket.readyState === SOCKET_STATE.open) socket.unsubscribe(topic);
      members--;
    },
    send(data) {
      if (!server || members === 0) return 0;
      server.publish(topic, data as string | Uint8Array<ArrayBuffer>);
      return members;
    },
  };
}
