/** Node's private loopback server for the warm-up: requests go through node:http and @hono/node-server, then it is gone. */
import { upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { serveNodeLoopback } from '../../worker/runtime/node-loopback.ts';

describe('serveNodeLoopback', () => {
  it('answers over a real connection with the IncomingMessage in the env, and refuses connections once closed', async () => {
    const seen: string[] = [];
    const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
    app.post('/echo', async (c) => {
      let body = '';
      for await (const chunk of c.env.incoming) body += String(chunk);
      seen.push(`${c.req.header('x-test')} ${body} ${c.env.incoming.socket.remoteAddress}`);
      return c.json({ ok: true }, 202);
    });
    const server = await serveNodeLoopback((request, env) => app.fetch(request, env as { incoming: IncomingMessage }));
    const status = await server.request('/echo', { method: 'POST', headers: { 'x-test': 'header' }, body: 'the body' });
    expect(status).toBe(202);
    expect(seen).toEqual(['header the body 127.0.0.1']);
    expect(await server.request('/missing', { method: 'GET', headers: {} })).toBe(404);
    await server.close();
    await expect(server.request('/echo', { method: 'POST', headers: {}, body: '' })).rejects.toThrow(/ECONNREFUSED/);
  });

  it("ends a rehearsed listener's socket with a close handshake, as a client's ends, not by dropping the connection", async () => {
    let closed!: (code: number) => void;
    const serverSawClose = new Promise<number>((resolve) => (closed = resolve));
    const app = new Hono();
    app.get('/listen', upgradeWebSocket(() => ({ onClose: (event) => closed(event.code) })));
    const server = await serveNodeLoopback((request, env) => app.fetch(request, env));
    try {
      const socket = await server.openSocket!('/listen', {}, () => {});
      socket.close();
      // 1005: a close frame without a status, as ws's close() sends; a dropped connection would read 1006.
      expect(await serverSawClose).toBe(1005);
    } finally {
      await server.close();
    }
  });
});
