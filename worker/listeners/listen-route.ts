/** GET /v1/streams/{stream}/listen: a WebSocket that joins this instance's listeners of the stream. */
import type { Context } from 'hono';
import type { WSContext } from 'hono/ws';
import { type AudioFormat, isEncoding, isSampleRate } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import type { IngressContext } from '../ingress/context.ts';
import { type Env, type RuntimeAdapter, SOCKET_STATE } from '../runtime/contract.ts';
import { authorize, watchRevocation } from '../security/auth.ts';
import type { Listener, ListenerSocket } from './listener.ts';
import { type ListenerInbox, listenerInbox } from './listener-inbox.ts';

export function listenRoute({ directory, listeners, played, limits, sourceFormat, clock, now, auth }: IngressContext, runtime: RuntimeAdapter) {
  return async (c: Context<Env>, name: string): Promise<Response> => {
    authorize(c.get('principal'), 'listen', name);
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new RelayError('bad_request', 'This route is a WebSocket: connect with a WebSocket client (Upgrade: websocket).');
    }
    const format = listenFormat(c.req.query('encoding'), c.req.query('sample_rate'), sourceFormat);
    const from = c.req.query('from');
    if (from !== undefined && from !== 'utterance' && from !== 'live') {
      throw new RelayError('bad_request', 'from is `live` (the default) or `utterance` (start with the current utterance).');
    }
    const timing = c.req.query('timing');
    if (timing !== undefined && timing !== 'true' && timing !== 'false') {
      throw new RelayError('bad_request', 'timing is `true` (send presentation times) or `false` (the default).');
    }
    if (listeners.count(name) >= limits.maxListenersPerStream) throw new RelayError('too_many_listeners');
    await directory.open(name);
    let listener: Listener | null = null;
    let inbox: ListenerInbox | null = null;
    let unwatch = () => {};
    const release = () => {
      unwatch();
      if (listener) {
        listeners.remove(listener);
        played.detach(listener);
      }
      listener = null;
    };
    const response = await runtime.upgradeWebSocket(c, {
      onOpen(_event, ws) {
        const options = { ...(from === 'utterance' ? { from: 'utterance' as const } : {}), timing: timing === 'true' };
        listener = listeners.add(name, format, new WsListenerSocket(ws, runtime), options);
        played.attach(listener);
        const joined = listener;
        inbox = listenerInbox((text) => ws.send(text), clock, now, (report) => played.report(joined, report));
        // A revoked API key ends the socket at once.
        unwatch = watchRevocation(auth, c.get('principal'), () => ws.close(new RelayError('unauthorized').closeCode, 'unauthorized'));
      },
      onMessage(event, ws) {
        const error = inbox ? inbox(event.data) : new RelayError('invalid_message', 'Nothing may be sent before the socket opened.');
        if (error) ws.close(error.closeCode, error.code);
      },
      onClose: release,
      onError: release,
    });
    return response ?? new Response(null);
  };
}

function listenFormat(encoding: string | undefined, sampleRate: string | undefined, fallback: AudioFormat): AudioFormat {
  if (encoding !== undefined && !isEncoding(encoding)) throw new RelayError('unsupported_encoding');
  const rate = sampleRate === undefined ? undefined : Number(sampleRate);
  if (rate !== undefined && !isSampleRate(rate)) throw new RelayError('unsupported_sample_rate');
  return { encoding: encoding ?? fallback.encoding, sampleRate: rate ?? fallback.sampleRate };
}

/** A listener's socket: hono's WSContext, with the runtime's socket groups where it has them (methods on the prototype: no closures per listener). */
class WsListenerSocket implements ListenerSocket {
  constructor(
    readonly ws: WSContext<any>,
    private readonly runtime: RuntimeAdapter,
  ) {}

  get newGroup() {
    return this.runtime.socketGroup;
  }

  send(data: string | Uint8Array): void {
    this.ws.send(data as Uint8Array<ArrayBuffer> | string);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  bufferedAmount(): number {
    return this.runtime.bufferedAmount(this.ws);
  }

  isOpen(): boolean {
    return this.ws.readyState === SOCKET_STATE.open;
  }
}
