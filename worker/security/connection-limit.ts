/**
 * Flood guards: caps on open connections (requests in progress and WebSockets) per instance and per
 * client address, and on the size of every WebSocket message a client sends, whatever the runtime.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { UpgradeWebSocket, WSEvents, WSMessageReceive } from 'hono/ws';
import { RelayError } from '../../shared/errors.ts';
import { unrefTimer } from '../../shared/timers.ts';
import type { RuntimeAdapter } from '../runtime/contract.ts';

// A client whose handshake never completes gets no close event; its slot comes back after this.
const HANDSHAKE_GRACE_MS = 10_000;
// Seconds a refused client is told to wait: connections free up as others finish.
const RETRY_AFTER_SECONDS = 1;

interface Slot {
  release(): void;
  handedOff: boolean;
}

export class ConnectionLimiter {
  private total = 0;
  private readonly byAddress = new Map<string, number>();
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

  /** The WebSocket takes over the request's slot: the returned function gives it back (once). */
  handOff(request: Request): () => void {
    const slot = this.slots.get(request);
    if (!slot) return () => {};
    slot.handedOff = true;
    return slot.release;
  }

  get open(): number {
    return this.total;
  }

  private acquire(address: string | null): Slot {
    if (this.total >= this.limits.maxConnections) {
      throw new RelayError('too_many_connections', `The relay has ${this.total} connections open, its limit; retry later.`, { retryAfter: RETRY_AFTER_SECONDS });
    }
    const fromAddress = address === null ? 0 : (this.byAddress.get(address) ?? 0);
    if (fromAddress >= this.limits.maxConnectionsPerIP) {
      throw new RelayError('too_many_connections', `Your address has ${fromAddress} connections open, the limit per address; close some or retry later.`, { retryAfter: RETRY_AFTER_SECONDS });
    }
    this.total++;
    if (address !== null) this.byAddress.set(address, fromAddress + 1);
    let released = false;
    return {
      handedOff: false,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        if (address === null) return;
        const left = (this.byAddress.get(address) ?? 1) - 1;
        if (left > 0) this.byAddress.set(address, left);
        else this.byAddress.delete(address);
      },
    };
  }
}

/**
 * The runtime with its WebSocket upgrade wrapped: every socket keeps its connection slot until it closes,
 * and a client message over `maxFrameBytes` closes the socket with 1009 `payload_too_large` before any
 * route sees it (runtimes that cap frames themselves just never get that far).
 */
export function guardWebSockets(runtime: RuntimeAdapter, limiter: ConnectionLimiter, maxFrameBytes: number): RuntimeAdapter {
  const upgradeWebSocket = ((c: Context, events: WSEvents<any>, options?: unknown) =>
    runtime.upgradeWebSocket(c, guardEvents(events, limiter.handOff(c.req.raw), maxFrameBytes), options)) as UpgradeWebSocket<any>;
  return { ...runtime, upgradeWebSocket };
}

function guardEvents(events: WSEvents<any>, release: () => void, maxFrameBytes: number): WSEvents<any> {
  let opened = false;
  const abandoned = setTimeout(() => {
    if (!opened) release();
  }, HANDSHAKE_GRACE_MS);
  unrefTimer(abandoned);
  return {
    onOpen(event, ws) {
      opened = true;
      clearTimeout(abandoned);
      events.onOpen?.(event, ws);
    },
    onMessage(event, ws) {
      if (tooLarge(event.data, maxFrameBytes)) {
        const error = new RelayError('payload_too_large');
        ws.close(error.closeCode, error.code);
        return;
      }
      events.onMessage?.(event, ws);
    },
    onClose(event, ws) {
      clearTimeout(abandoned);
      release();
      events.onClose?.(event, ws);
    },
    onError(event, ws) {
      clearTimeout(abandoned);
      release();
      events.onError?.(event, ws);
    },
  };
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
