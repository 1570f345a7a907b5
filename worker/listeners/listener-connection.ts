/**
 * One listener's WebSocket: the events the runtime calls (behind the connection guard, whose state it carries), the
 * socket port the listener hub writes to, and the listener's record in the hub. One object per listener with its
 * methods on the prototype: no closures per listener, and nothing of the upgrade request (its Hono context, headers,
 * principal) outlives the handshake.
 */
import type { WSMessageReceive } from 'hono/ws';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import { IdSeries } from '../core/ids.ts';
import { type RuntimeAdapter, type RuntimeSocket, SOCKET_STATE, type SocketGroup } from '../runtime/contract.ts';
import { type Authenticator, watchRevocation } from '../security/auth.ts';
import { GuardedSocket } from '../security/connection-limit.ts';
import type { Principal } from '../security/principal.ts';
import type { ListenerRecord, ListenerRegistry, ListenerSocket } from './listener.ts';
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

/** Listener ids (`lst_…`), spelled when read. */
const LISTENER_IDS = new IdSeries('lst');

/** A route's listener connections: `new (listenerConnections(shared))(request)`, see below. */
export abstract class ListenerConnection extends GuardedSocket implements ListenerSocket, ListenerRecord {
  /** What every listener connection of the route shares: on the route's class, not in each connection. */
  protected abstract readonly shared: ListenerConnections;

  /** From the socket's open until it closes, while the listener is registered with the listener hub and the playback reports. */
  ws: RuntimeSocket | undefined = undefined;
  private readonly serial = LISTENER_IDS.next();
  stream: string;
  readonly format: AudioFormat;
  readonly timing: boolean;
  place = -1;
  private inbox: ListenerInbox | null = null;
  private unwatch: (() => void) | null = null;
  /** Until the socket opens: what the handshake asked for. */
  private request: ListenRequest | null;

  constructor(request: ListenRequest) {
    super();
    this.request = request;
    this.stream = request.stream;
    this.format = request.format;
    this.timing = request.timing;
  }

  get id(): string {
    return LISTENER_IDS.spell(this.serial);
  }

  /** The listener's socket is the connection itself. */
  get socket(): ListenerSocket {
    return this;
  }

  protected opened(_event: Event, ws: RuntimeSocket): void {
    const request = this.request;
    if (!request) return;
    this.request = null;
    this.ws = ws;
    const { listeners, played, auth } = this.shared;
    listeners.admit(this, request.from === 'utterance' ? { from: 'utterance' } : {});
    played.attach(this);
    // A revoked API key ends the socket at once.
    if (request.principal.kind === 'key') this.unwatch = watchRevocation(auth, request.principal, () => this.close(new RelayError('unauthorized').closeCode, 'unauthorized'));
  }

  protected received(event: MessageEvent<WSMessageReceive>, ws: RuntimeSocket): void {
    const error = this.ws
      ? (this.inbox ??= new ListenerInbox(this, this.shared.clock, this.shared.now)).receive(event.data, this.shared.played, this)
      : new RelayError('invalid_message', 'Nothing may be sent before the socket opened.');
    if (error) ws.close(error.closeCode, error.code);
  }

  protected closed(): void {
    this.release();
  }

  protected failed(): void {
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
    if (this.ws) {
      this.shared.listeners.remove(this);
      this.shared.played.detach(this);
    }
    this.ws = undefined;
  }
}

/** The listener connection class of one route, which holds what its connections share. */
export function listenerConnections(shared: ListenerConnections): new (request: ListenRequest) => ListenerConnection {
  return class RouteListenerConnection extends ListenerConnection {
    protected get shared(): ListenerConnections {
      return shared;
    }
  };
}
