/**
 * One listener's WebSocket: the events the runtime calls, and the socket port the listener hub writes to. One object
 * per listener with its methods on the prototype: no closures per listener, and nothing of the upgrade request (its
 * Hono context, headers, principal) outlives the handshake.
 */
import type { WSContext, WSEvents, WSMessageReceive } from 'hono/ws';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import { type RuntimeAdapter, SOCKET_STATE, type SocketGroup } from '../runtime/contract.ts';
import { type Authenticator, watchRevocation } from '../security/auth.ts';
import type { Principal } from '../security/principal.ts';
import type { Listener, ListenerRegistry, ListenerSocket } from './listener.ts';
import { ListenerInbox } from './listener-inbox.ts';
import type { PlaybackReports } from './played-reports.ts';

/** What every listener connection of a relay shares: built once per route, not per socket. */
export interface ListenerConnections {
  readonly listeners: ListenerRegistry;
  readonly played: PlaybackReports;
  readonly auth: Authenticator;
  readonly runtime: RuntimeAdapter;
  /** The listener protocol's relay clock now (clock pongs), and the monotonic clock in ms (rate caps). */
  readonly clock: () => number;
  readonly now: () => number;
}

export interface ListenRequest {
  stream: string;
  format: AudioFormat;
  from: 'utterance' | 'live';
  timing: boolean;
  principal: Principal;
}

export class ListenerConnection implements WSEvents<any>, ListenerSocket {
  ws: WSContext<any> | undefined = undefined;
  private listener: Listener | null = null;
  private inbox: ListenerInbox | null = null;
  private unwatch: (() => void) | null = null;
  /** Until the socket opens: what the handshake asked for. */
  private request: ListenRequest | null;

  constructor(
    private readonly shared: ListenerConnections,
    request: ListenRequest,
  ) {
    this.request = request;
  }

  onOpen(_event: Event, ws: WSContext<any>): void {
    const request = this.request;
    if (!request) return;
    this.request = null;
    this.ws = ws;
    const { listeners, played, auth } = this.shared;
    const options = { ...(request.from === 'utterance' ? { from: 'utterance' as const } : {}), timing: request.timing };
    const listener = (this.listener = listeners.add(request.stream, request.format, this, options));
    played.attach(listener);
    // A revoked API key ends the socket at once.
    if (request.principal.kind === 'key') this.unwatch = watchRevocation(auth, request.principal, () => this.close(new RelayError('unauthorized').closeCode, 'unauthorized'));
  }

  onMessage(event: MessageEvent<WSMessageReceive>, ws: WSContext<any>): void {
    const listener = this.listener;
    const error = listener
      ? (this.inbox ??= new ListenerInbox(this, this.shared.clock, this.shared.now)).receive(event.data, this.shared.played, listener)
      : new RelayError('invalid_message', 'Nothing may be sent before the socket opened.');
    if (error) ws.close(error.closeCode, error.code);
  }

  onClose(): void {
    this.release();
  }

  onError(): void {
    this.release();
  }

  get newGroup(): (() => SocketGroup) | undefined {
    return this.shared.runtime.socketGroup;
  }

  send(data: string | Uint8Array): void {
    this.ws?.send(data as Uint8Array<ArrayBuffer> | string);
  }

  close(code: number, reason: string): void {
    this.ws?.close(code, reason);
  }

  bufferedAmount(): number {
    return this.ws ? this.shared.runtime.bufferedAmount(this.ws) : 0;
  }

  isOpen(): boolean {
    return this.ws?.readyState === SOCKET_STATE.open;
  }

  private release(): void {
    this.request = null;
    this.unwatch?.();
    this.unwatch = null;
    if (this.listener) {
      this.shared.listeners.remove(this.listener);
      this.shared.played.detach(this.listener);
    }
    this.listener = null;
  }
}
