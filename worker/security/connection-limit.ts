/**
 * Flood guards: caps on open connections (requests in progress and WebSockets) per instance and per
 * client address, and on the size of every WebSocket message a client sends, whatever the runtime.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { WSMessageReceive } from 'hono/ws';
import { RelayError } from '../../shared/errors.ts';
import { unrefTimer } from '../../shared/timers.ts';
import type { RuntimeAdapter, RuntimeSocket, SocketEvents, UpgradeWebSocket } from '../runtime/contract.ts';

// A client whose handshake never completes gets no close event; its slot comes back after this.
const HANDSHAKE_GRACE_MS = 10_000;
// Seconds a refused client is told to wait: connections free up as others finish.
const RETRY_AFTER_SECONDS = 1;

/** The connections open from one client address (null: from no known address): one object per address, shared by all of them. */
class AddressConnections {
  open = 0;

  constructor(readonly address: string | null) {}
}

/** One open connection's place in the counts; given back once. */
class Slot {
  handedOff = false;
  private released = false;

  constructor(
    readonly limiter: ConnectionLimiter,
    readonly from: AddressConnections,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.release(this.from);
  }
}

export class ConnectionLimiter {
  private total = 0;
  private readonly byAddress = new Map<string, AddressConnections>();
  /** The count of connections from no known address, which the total already limits. */
  private readonly unaddressed = new AddressConnections(null);
  private readonly slots = new WeakMap<Request, Slot>();

  constructor(private readonly limits: { maxConnections: number; maxConnectionsPerIP: number }) {}

  /** Counts a request as open until its handler returns, or, for a WebSocket, until the socket closes. */
  middleware(clientAddress?: (c: Context) => string | null): MiddlewareHandler {
    return async (c, next) => {
      const slot = this.acquire(clientAddress?.(c) ?? null);
      this.slots.set(c.req.raw, slot);
      try {
        await next();
      } finally {
        if (!slot.handedOff) slot.release();
      }
    };
  }

  /** The WebSocket takes over the request's slot, to give back (once) when it closes. */
  handOff(request: Request): Slot | null {
    const slot = this.slots.get(request);
    if (!slot) return null;
    slot.handedOff = true;
    return slot;
  }

  get open(): number {
    return this.total;
  }

  private acquire(address: string | null): Slot {
    if (this.total >= this.limits.maxConnections) {
      throw new RelayError('too_many_connections', `The relay has ${this.total} connections open, its limit; retry later.`, { retryAfter: RETRY_AFTER_SECONDS });
    }
    const from = address === null ? null : this.byAddress.get(address);
    if (from && from.open >= this.limits.maxConnectionsPerIP) {
      throw new RelayError('too_many_connections', `Your address has ${from.open} connections open, the limit per address; close some or retry later.`, { retryAfter: RETRY_AFTER_SECONDS });
    }
    this.total++;
    const counted = from ?? (address === null ? this.unaddressed : new AddressConnections(address));
    if (counted.open++ === 0 && address !== null) this.byAddress.set(address, counted);
    return new Slot(this, counted);
  }

  /** A slot given back: its connection no longer counts. */
  release(from: AddressConnections): void {
    this.total--;
    if (--from.open === 0 && from.address !== null) this.byAddress.delete(from.address);
  }
}

/**
 * The runtime with its WebSocket upgrade wrapped: every socket keeps its connection slot until it closes,
 * and a client message over `maxFrameBytes` closes the socket with 1009 `payload_too_large` before any
 * route sees it (runtimes that cap frames themselves just never get that far).
 */
export function guardWebSockets(runtime: RuntimeAdapter, limiter: ConnectionLimiter, maxFrameBytes: number): RuntimeAdapter {
  const guard = new SocketGuard(limiter, maxFrameBytes);
  const upgradeWebSocket: UpgradeWebSocket = (c, events) => {
    const guarded = events instanceof GuardedSocket ? events : new GuardedEvents(events);
    guarded.guard(guard, limiter.handOff(c.req.raw));
    return runtime.upgradeWebSocket(c, guarded);
  };
  return { ...runtime, upgradeWebSocket };
}

/** What every guarded socket of a relay shares, with the handshake timers of the sockets not open yet. */
class SocketGuard {
  /** Each socket upgraded but not yet open, with the timer that gives its slot back if it never opens. */
  readonly handshakes = new Map<GuardedSocket, ReturnType<typeof setTimeout>>();

  constructor(
    readonly limiter: ConnectionLimiter,
    readonly maxFrameBytes: number,
  ) {}
}

/**
 * A socket's events behind the guards, as a base class: a route whose events are one object per socket extends it (a
 * listener connection), so the socket keeps one object, not two; other events are wrapped in one (GuardedEvents).
 * It keeps two fields: the guard, and its address's count while it holds a slot (not the request's Slot); its
 * handshake timer is the guard's until the socket opens. Unguarded (no guardWebSockets), the events run as they are.
 */
export abstract class GuardedSocket implements SocketEvents {
  private guarded: SocketGuard | null = null;
  /** The count its slot is in, from the upgrade until the socket gives the slot back; null holding none. */
  private holding: AddressConnections | null = null;

  /** Called once, as the socket is upgraded. */
  guard(guard: SocketGuard, slot: Slot | null): void {
    this.guarded = guard;
    if (!slot) return;
    this.holding = slot.from;
    const timer = setTimeout(() => this.releaseSlot(), HANDSHAKE_GRACE_MS);
    unrefTimer(timer);
    guard.handshakes.set(this, timer);
  }

  onOpen(event: Event, ws: RuntimeSocket): void {
    this.stopHandshakeTimer();
    this.opened(event, ws);
  }

  onMessage(event: MessageEvent<WSMessageReceive>, ws: RuntimeSocket): void {
    if (this.guarded && tooLarge(event.data, this.guarded.maxFrameBytes)) {
      const error = new RelayError('payload_too_large');
      ws.close(error.closeCode, error.code);
      return;
    }
    this.received(event, ws);
  }

  onClose(event: CloseEvent, ws: RuntimeSocket): void {
    this.releaseSlot();
    this.closed(event, ws);
  }

  onError(event: Event, ws: RuntimeSocket): void {
    this.releaseSlot();
    this.failed(event, ws);
  }

  protected abstract opened(event: Event, ws: RuntimeSocket): void;
  protected abstract received(event: MessageEvent<WSMessageReceive>, ws: RuntimeSocket): void;
  protected abstract closed(event: CloseEvent, ws: RuntimeSocket): void;
  protected abstract failed(event: Event, ws: RuntimeSocket): void;

  private releaseSlot(): void {
    this.stopHandshakeTimer();
    if (!this.holding || !this.guarded) return;
    this.guarded.limiter.release(this.holding);
    this.holding = null;
  }

  private stopHandshakeTimer(): void {
    const handshakes = this.guarded?.handshakes;
    const timer = handshakes?.get(this);
    if (timer === undefined) return;
    clearTimeout(timer);
    handshakes!.delete(this);
  }
}

/** Any other socket's events behind the guards. */
class GuardedEvents extends GuardedSocket {
  constructor(private readonly events: SocketEvents) {
    super();
  }

  protected opened(event: Event, ws: RuntimeSocket): void {
    this.events.onOpen?.(event, ws);
  }

  protected received(event: MessageEvent<WSMessageReceive>, ws: RuntimeSocket): void {
    this.events.onMessage?.(event, ws);
  }

  protected closed(event: CloseEvent, ws: RuntimeSocket): void {
    this.events.onClose?.(event, ws);
  }

  protected failed(event: Event, ws: RuntimeSocket): void {
    this.events.onError?.(event, ws);
  }
}

function tooLarge(data: WSMessageReceive, maxBytes: number): boolean {
  if (typeof data === 'string') {
    // UTF-8 takes at least 1 and at most 3 bytes per UTF-16 unit: only strings in between need encoding.
    if (data.length > maxBytes) return true;
    if (data.length * 3 <= maxBytes) return false;
    return new TextEncoder().encode(data).byteLength > maxBytes;
  }
  return (data instanceof Blob ? data.size : data.byteLength) > maxBytes;
}
