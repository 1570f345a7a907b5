/**
 * The relay's own per-socket side of Node's WebSocket upgrade (worker/runtime/node-upgrade.ts) finds @hono/node-server's
 * wait for ws's socket by a private symbol. A version of @hono/node-server without it still works through the
 * library's helper, only at its memory cost per socket: this test is what tells that the saving has gone.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { upgradeWebSocket } from '../../worker/runtime/node-upgrade.ts';

let close: (() => Promise<void>) | null = null;

afterEach(async () => {
  await close?.();
  close = null;
});

describe('Node upgrade', () => {
  it('opens sockets on its own shared handlers, and their events reach the route', async () => {
    const opened: WebSocket[] = [];
    const received: string[] = [];
    const closedWith: number[] = [];
    const app = new Hono();
    app.get(
      '/ws',
      async (c) =>
        (await upgradeWebSocket(c, {
          onOpen: (_event, ws) => void opened.push(ws as WebSocket),
          onMessage: (event, ws) => {
            received.push(String(event.data));
            ws.send(`echo ${String(event.data)}`);
          },
          onClose: (event) => void closedWith.push(event.code),
        })) ?? new Response(null),
    );
    const wss = new WebSocketServer({ noServer: true });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss } }, () => resolve(s));
    });
    close = () => new Promise((resolve) => (wss.close(), server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const echo = new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data))));
    await new Promise((resolve, reject) => (client.once('open', resolve), client.once('error', reject)));
    client.send('hello');
    expect(await echo).toBe('echo hello');
    expect(received).toEqual(['hello']);
    // The library's helper adds a closure per socket; the relay's own path one named listener shared by all.
    const listeners = opened[0]!.listeners('message') as Array<{ name: string }>;
    expect(listeners.map((listener) => listener.name)).toEqual(['onMessage']);

    const closed = new Promise((resolve) => client.once('close', resolve));
    client.close(4000);
    await closed;
    await expect.poll(() => closedWith).toEqual([4000]);
  });
});
