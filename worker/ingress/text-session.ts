/** A WebSocket whose client speaks JSON text frames to a session object: the shape of publish and Cartesia ingress. */
import type { Context } from 'hono';
import { RelayError } from '../../shared/errors.ts';
import type { RuntimeAdapter, RuntimeSocket } from '../runtime/contract.ts';

export interface TextSession {
  receive(text: string): void;
  close(): void;
  /** The credential that opened the socket was revoked: a last word before the socket closes. */
  revoked?(): void;
}

/** Watches the socket's credential: calls back once when it is revoked, returns the way to stop. */
export type RevocationWatch = (onRevoked: () => void) => () => void;

/** Upgrades the request; each text frame goes to the session, a binary frame closes the socket with `binaryRefusal`. */
export async function upgradeTextSession(
  c: Context,
  runtime: RuntimeAdapter,
  open: (ws: RuntimeSocket) => TextSession,
  binaryRefusal: string,
  watch: RevocationWatch = () => () => {},
): Promise<Response> {
  let session: TextSession | null = null;
  let unwatch = () => {};
  const release = () => {
    unwatch();
    session?.close();
    session = null;
  };
  const response = await runtime.upgradeWebSocket(c, {
    onOpen(_event, ws) {
      session = open(ws);
      unwatch = watch(() => {
        const error = new RelayError('unauthorized', 'The credential of this connection was revoked.');
        session?.revoked?.();
        release();
        ws.close(error.closeCode, error.code);
      });
    },
    onMessage(event, ws) {
      if (typeof event.data !== 'string') {
        const error = new RelayError('invalid_message', binaryRefusal);
        ws.close(error.closeCode, error.code);
        return;
      }
      session?.receive(event.data);
    },
    onClose: release,
    onError: release,
  });
  return response ?? new Response(null);
}
