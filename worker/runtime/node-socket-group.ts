/**
 * Node's socket group: each message framed once with ws's own framer and the same bytes written straight to
 * every socket's TCP stream, where `ws.send` would frame and allocate again per socket. Bytes written so
 * still count in `bufferedAmount` (the socket's writable length), so backpressure accounting holds.
 */
import * as wsModule from 'ws';
import { WebSocket } from 'ws';
import type { RuntimeSocket, SocketGroup } from './contract.ts';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

/** ws's framer (not in its type declarations): returns the header and the payload, unmasked for a server. */
const { Sender } = wsModule as unknown as { Sender: { frame(data: Uint8Array, options: FrameOptions): Uint8Array[] } };

/** What of ws's internals the direct write relies on (ws 8): its TCP socket, and the sender's queue state. */
interface WebSocketInternals {
  _socket: { write(chunk: Uint8Array): boolean };
  _sender: { _state: number; _queue: unknown[] };
}

const OPCODE_TEXT = 1;
const OPCODE_BINARY = 2;
/** ws's sender idle: not compressing nor reading a Blob, nothing queued; a direct write cannot overtake a message. */
const SENDER_IDLE = 0;

export function nodeSocketGroup(): SocketGroup {
  const sockets = new Set<WebSocket>();
  return {
    // The relay's events get ws's socket itself (node-upgrade.ts).
    add: (ws: RuntimeSocket) => void sockets.add(ws as WebSocket),
    delete: (ws: RuntimeSocket) => void sockets.delete(ws as WebSocket),
    send(data) {
      const binary = typeof data !== 'string';
      const parts = Sender.frame(binary ? data : Buffer.from(data), { fin: true, opcode: binary ? OPCODE_BINARY : OPCODE_TEXT, mask: false, readOnly: true, rsv1: false });
      const frame = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      let sent = 0;
      for (const socket of sockets) {
        if (socket.readyState !== WebSocket.OPEN) continue;
        const internals = socket as unknown as WebSocketInternals;
        if (internals._sender._state === SENDER_IDLE && internals._sender._queue.length === 0) internals._socket.write(frame);
        else socket.send(data);
        sent++;
      }
      return sent;
    },
  };
}
