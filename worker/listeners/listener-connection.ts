/**
 * One listener's WebSocket: the events the runtime calls (behind the connection guard, whose state it carries), the
 * socket port the listener hub writes to, and the listener's record in the hub. One object per listener with its
 * methods on the prototype: no closures per listener, and nothing of the upgrade request (its Hono context, headers,
 * principal) outlives the handshake. One class for every route (a class made per route would be made twice, the
 * warm-up's route and the relay's, and JSC then gives every instance a slot for its prototype).
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

/** What every listener connection of a route shares: built once per route, not per socket. */
export interface ListenerConnections {
  readonly listeners: ListenerRegistry;
  readonly played: PlaybackReports;
  readonly auth: Authenticator;
  readonly runtime: RuntimeAdapter;
  /** The listener protocol's relay clock now (clock pongs), and the monotonic clock in ms (rate caps). */
  readonly clock: () => number;
  readonly now: () => number;
}

/**
 * What the connections of one route asking for the same format and timing share: one object for all of them (the
 * route keeps one per format and timing), so a connection points to it rather than holding each.
 */
export class ListenerKind {
  constructor(
    readonly shared: ListenerConnections,
    readonly format: AudioFormat,
    readonly timing: boolean,
  ) {}
}

export interface ListenRequest {
  stream: string;
  kind: ListenerKind;
  from: 'utterance' | 'live';
  principal: Principal;
}

/**
 * What only some connections hold, made when first needed: the handshake's request until the socket opens, the inbox
 * of a listener that sends (clock pings, played reports), the revocation watch of a listener on an API key.
 */
class ConnectionExtras {
  inbox: ListenerInbox | null = null;
  unwatch: (() => void) | null = null;

  constructor(public request: ListenRequest | null) {}
}

/** Listener ids (`lst_…`), spelled when read. */
const LISTENER_IDS = new IdSeries('lst');

/**
 * One listener's connection: `new ListenerConnection(request)`. Six fields beside its guard's two (JSC sizes an object
 * of up to eight fields at 80 bytes, nine to twelve at 112): what it shares with others is its kind's, what few
 * listeners need is in its extras.
 */
export class ListenerConnection extends GuardedSocket implements ListenerSocket, ListenerRecord {
  /** From the socket's open until it closes, while the listener is registered with the listener hub and the playback reports. */
  ws: RuntimeSocket | undefined = undefined;
  private readonly serial = LISTENER_IDS.next();
  stream: string;
  private readonly kind: ListenerKind;
  place = -1;
  private extras: ConnectionExtras | null;

  constructor(request: ListenRequest) {
    super();
    this.stream = request.stream;
    this.kind = request.kind;
    this.extras = new ConnectionExtras(request);
  }

  get id(): string {
    return LISTENER_IDS.spell(this.serial);
  }

  get format(): AudioFormat {
    return this.kind.format;
  }

  get timing(): boolean {
    return this.kind.timing;
  }

  /** The listener's socket is the connection itself. */
  get socket(): ListenerSocket {
    return this;
  }

  protected opened(_event: Event, ws: RuntimeSocket): void {
    const request = this.extras?.request;
    if (!request) return;
    this.extras = null;
    this.ws = ws;
    const { listeners, played, auth } = this.kind.shared;
    listeners.admit(this, request.from === 'utterance' ? { from: 'utterance' } : {});
    played.attach(this);
    // A revoked API key ends the socket at once.
    if (request.principal.kind === 'key') {
      (this.extras ??= new ConnectionExtras(null)).unwatch = watchRevocation(auth, request.principal, () => this.close(new RelayError('unauthorized').closeCode, 'unauthorized'));
    }
  }

  protected received(event: MessageEvent<WSMessageReceive>, ws: RuntimeSocket): void {
    const { shared } = this.kind;
    const error = this.ws
      ? ((this.extras ??= new ConnectionExtras(null)).inbox ??= new ListenerInbox(this, shared.clock, shared.now)).receive(event.data, shared.played, this)
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
    return this.kind.shared.runtime.socketGroup;
  }

  send(data: string | Uint8Array): void {
    this.ws?.send(data as Uint8Array<ArrayBuffer> | string);
  }

  close(code: number, reason: string): void {
    this.ws?.close(code, reason);
  }

  bufferedAmount(): number {
    return this.ws ? this.kind.shared.runtime.bufferedAmount(this.ws) : 0;
  }

  isOpen(): boolean {
    return this.ws?.readyState === SOCKET_STATE.open;
  }

  private release(): void {
    this.extras?.unwatch?.();
    this.extras = null;
    if (this.ws) {
      this.kind.shared.listeners.remove(this);
      this.kind.shared.played.detach(this);
    }
    this.ws = undefined;
  }
}
