/**
 * @hono/node-server's WebSocket upgrade, handed only what it reads of the request: the upgrade header, the URL and
 * the server's env. Its per-socket closures keep whatever context they are given for the socket's whole life, and a
 * listener need not keep its handshake's Hono context (request, headers, variables, response helpers) nor Node's
 * IncomingMessage.
 */
import type { IncomingMessage } from 'node:http';
import { upgradeWebSocket as honoUpgradeWebSocket } from '@hono/node-server';
import type { Context } from 'hono';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';

/** The part of a Hono context @hono/node-server's upgrade reads (`c.req.header('upgrade')`, `c.req.url`, `c.env`). */
class Handshake {
  readonly req = this;

  constructor(
    readonly env: { incoming?: IncomingMessage },
    readonly url: string,
    private readonly upgrade: string | undefined,
  ) {}

  header(name: string): string | undefined {
    return name.toLowerCase() === 'upgrade' ? this.upgrade : undefined;
  }
}

export const upgradeWebSocket = ((c: Context, events: WSEvents<any>, options?: unknown) => {
  const env = c.env as { incoming?: IncomingMessage };
  const upgraded = honoUpgradeWebSocket(new Handshake(env, c.req.url, c.req.header('upgrade')) as unknown as Context, events, options as never);
  // Read at once, to wait for ws's socket; from here on the server holds the request in a variable of its own.
  env.incoming = undefined;
  return upgraded;
}) as UpgradeWebSocket<any>;
