/** One pooled Cartesia socket and the contexts multiplexed over it. */
import type { RelayError } from '../../../shared/errors.ts';
import { unrefTimer } from '../../../shared/timers.ts';
import type { Logger } from '../../ops/logger.ts';
import { type LenientCartesiaMessage, parseLenientMessage } from './schema.ts';
import { CartesiaSocket, type SDKContextOptions, type SocketClosed, type SocketOptions, type TTSWSContext } from './sdk.ts';

/** Where a connection delivers one context's messages. */
export interface ContextRoute {
  /** A validated message; `audio` is the chunk's payload already decoded by the SDK. */
  message(message: LenientCartesiaMessage, audio: Uint8Array | null): void;
  /** The socket closed under the context. */
  lost(error: RelayError): void;
}

/** What a connection needs of the pool that owns it. */
export interface ConnectionOwner {
  now(): number;
  /** A socket with no context for this long is handed back to `recycle`. */
  readonly recycleIdleMs: number;
  recycle(connection: CartesiaConnection): void;
  /** Called once when the socket closes; returns the error its contexts end with. */
  connectionClosed(connection: CartesiaConnection, info: SocketClosed, wasOpen: boolean, contexts: number): RelayError;
}

// Late frames of a cancelled context are recognised (and dropped quietly) for this long.
const RETIRED_TTL_MS = 60_000;
// A recycled socket that does not finish its closing handshake is cut after this long.
export const CLOSE_GRACE_MS = 2_000;

let connectionIds = 0;

/** One SDK socket and the contexts it carries. */
export class CartesiaConnection {
  readonly id = ++connectionIds;
  readonly opened: Promise<void>;
  /** Resolves once the socket has closed, whoever closed it. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  private readonly socket: CartesiaSocket;
  private readonly routes = new Map<string, ContextRoute>();
  private readonly retired = new Map<string, number>();
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private reserved = 0;
  state: 'connecting' | 'open' | 'closed' = 'connecting';
  /** Set when we close the socket ourselves, so its close is not taken for a drop. */
  closingReason: string | null = null;
  lastMessageAt = 0;

  constructor(
    private readonly owner: ConnectionOwner,
    options: SocketOptions,
    private readonly logger: Logger,
  ) {
    this.socket = new CartesiaSocket(options, {
      message: (value) => this.receive(value),
      malformed: (reason) => this.logger.warn('skipped a malformed Cartesia frame', { connection: this.id, reason }),
      closed: (info) => this.closed(info),
    });
    this.opened = this.socket.opened.then(() => {
      if (this.state === 'connecting') this.state = 'open';
      this.lastMessageAt = this.owner.now();
      if (this.load === 0) this.startIdleTimer();
    });
    this.opened.catch(() => {});
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  /** Contexts on this socket, counting those between `acquire` and `attach`. */
  get load(): number {
    return this.routes.size + this.reserved;
  }

  /** Holds a place for a context about to attach, so concurrent acquires spread by load. */
  reserve(): void {
    this.reserved += 1;
    this.stopIdleTimer();
  }

  /** Gives back a place that was reserved and never attached. */
  unreserve(): void {
    this.reserved = Math.max(0, this.reserved - 1);
    if (this.load === 0 && this.state === 'open') this.startIdleTimer();
  }

  get usable(): boolean {
    return this.state === 'open' && this.closingReason === null && this.socket.isOpen();
  }

  /** Whether the socket is open or opening, and not being closed by us. */
  get live(): boolean {
    return this.state !== 'closed' && this.closingReason === null;
  }

  /** Routes a context's messages here; the caller sends through the returned SDK context. */
  attach(contextId: string, route: ContextRoute, options: Omit<SDKContextOptions, 'contextId'>): TTSWSContext {
    this.routes.set(contextId, route);
    this.reserved = Math.max(0, this.reserved - 1);
    this.stopIdleTimer();
    return this.socket.context({ ...options, contextId });
  }

  /** Stops routing a context; frames still arriving for it are dropped as late frames. */
  detach(contextId: string): void {
    if (!this.routes.delete(contextId)) return;
    const now = this.owner.now();
    this.retired.set(contextId, now);
    for (const [id, at] of this.retired) {
      if (now - at < RETIRED_TTL_MS) break;
      this.retired.delete(id);
    }
    if (this.load === 0) this.startIdleTimer();
  }

  /** Runs an SDK send only while the socket is open: the SDK would otherwise reconnect silently behind our back. */
  send(operation: () => Promise<void>): Promise<boolean> {
    if (!this.usable) return Promise.resolve(false);
    return operation().then(
      () => true,
      (error: unknown) => {
        this.logger.warn('Cartesia send failed', { connection: this.id, error });
        return false;
      },
    );
  }

  close(reason: string): void {
    if (this.state === 'closed' || this.closingReason !== null) return;
    this.closingReason = reason;
    this.stopIdleTimer();
    this.socket.close(1000, reason);
    unrefTimer(setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS));
  }

  /** Cuts a socket that stopped answering. */
  terminate(reason: string): void {
    if (this.state === 'closed') return;
    this.logger.warn('terminating a Cartesia socket', { connection: this.id, reason });
    this.socket.terminate();
  }

  private receive(value: unknown): void {
    this.lastMessageAt = this.owner.now();
    const parsed = parseLenientMessage(value);
    if (!parsed.ok) {
      this.logger.warn('skipped an unrecognised Cartesia message', { connection: this.id, type: parsed.type, context_id: parsed.contextId, reason: parsed.reason });
      return;
    }
    const message = parsed.message;
    const contextId = message.context_id ?? null;
    const route = contextId === null ? undefined : this.routes.get(contextId);
    if (route) {
      route.message(message, message.type === 'chunk' ? decodedAudio(value) : null);
      return;
    }
    if (contextId !== null && this.retired.has(contextId)) {
      this.logger.debug('dropped a late Cartesia frame', { connection: this.id, context_id: contextId, type: message.type });
      return;
    }
    if (message.type === 'error') {
      this.logger.warn('Cartesia reported an error outside any context', {
        connection: this.id,
        status: message.status_code,
        error_code: message.error_code,
        title: message.title,
        message: message.message ?? message.error,
      });
      return;
    }
    this.logger.warn('skipped a Cartesia message for an unknown context', { connection: this.id, context_id: contextId, type: message.type });
  }

  private closed(info: SocketClosed): void {
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.markEnded();
    this.stopIdleTimer();
    const routes = [...this.routes.values()];
    this.routes.clear();
    const error = this.owner.connectionClosed(this, info, wasOpen, routes.length);
    for (const route of routes) route.lost(error);
  }

  private startIdleTimer(): void {
    this.stopIdleTimer();
    this.idleTimer = unrefTimer(
      setTimeout(() => {
        this.idleTimer = null;
        if (this.load === 0) this.owner.recycle(this);
      }, this.owner.recycleIdleMs),
    );
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

function decodedAudio(value: unknown): Uint8Array | null {
  const audio = (value as { audio?: unknown }).audio;
  return audio instanceof Uint8Array ? audio : null;
}
