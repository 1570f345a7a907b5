/** Node's private loopback server for the warm-up: requests go through node:http and @hono/node-server, then it is gone. */
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
});
