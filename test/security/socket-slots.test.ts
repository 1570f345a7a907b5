/** A guarded socket's connection slot: kept from the upgrade until the socket closes, or given back when its handshake never completes. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionLimiter, guardWebSockets } from '../../worker/security/connection-limit.ts';
import type { RuntimeSocket, SocketEvents } from '../../worker/runtime/contract.ts';

const ws: RuntimeSocket = { send: () => {}, close: () => {}, readyState: 1 };
// Node 20 has no CloseEvent; the guard reads nothing of it.
const closeEvent = new Event('close') as CloseEvent;

/** Upgrades one request from `address` through the limiter's middleware; resolves with the socket's guarded events. */
async function upgrade(limiter: ConnectionLimiter, address: string | null): Promise<SocketEvents> {
  let guarded: SocketEvents = {};
  const runtime = guardWebSockets({ upgradeWebSocket: (_c, events) => ((guarded = events), new Response(null)), bufferedAmount: () => 0 }, limiter, 1024);
  const c = { req: { raw: new Request('http://relay/v1/streams/s/listen') } };
  await limiter.middleware(() => address)(c as never, async () => void (await runtime.upgradeWebSocket(c as never, {})));
  return guarded;
}

afterEach(() => vi.useRealTimers());

describe('a guarded socket’s connection slot', () => {
  it('is held from the upgrade until the socket closes, counted per address, and given back once', async () => {
    const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIP: 2 });
    const first = await upgrade(limiter, '10.0.0.1');
    const second = await upgrade(limiter, '10.0.0.1');
    const unaddressed = await upgrade(limiter, null);
    expect(limiter.open).toBe(3);
    await expect(upgrade(limiter, '10.0.0.1')).rejects.toMatchObject({ code: 'too_many_connections' });
    for (const events of [first, second, unaddressed]) events.onOpen?.(new Event('open'), ws);
    first.onClose?.(closeEvent, ws);
    first.onError?.(new Event('error'), ws);
    expect(limiter.open).toBe(2);
    await upgrade(limiter, '10.0.0.1');
    second.onError?.(new Event('error'), ws);
    unaddressed.onClose?.(closeEvent, ws);
    expect(limiter.open).toBe(1);
  });

  it('comes back 10 s after an upgrade whose socket never opens, and not again when it closes', async () => {
    vi.useFakeTimers();
    const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIP: 10 });
    const stuck = await upgrade(limiter, '10.0.0.2');
    const opened = await upgrade(limiter, '10.0.0.2');
    opened.onOpen?.(new Event('open'), ws);
    vi.advanceTimersByTime(9_000);
    expect(limiter.open).toBe(2);
    vi.advanceTimersByTime(1_000);
    expect(limiter.open).toBe(1);
    stuck.onClose?.(closeEvent, ws);
    expect(limiter.open).toBe(1);
    opened.onClose?.(closeEvent, ws);
    expect(limiter.open).toBe(0);
  });
});
