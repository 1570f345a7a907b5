/**
 * Node's private loopback server for the warm-up (RuntimeAdapter.serveLoopback): node:http with
 * @hono/node-server's request listener, as the relay's own server, so a rehearsed request runs Node's parser,
 * the adapter's request and response code and the body read off the IncomingMessage (~4 ms of a first
 * utterance on its main thread when they were left cold).
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { LoopbackServer } from './contract.ts';

export async function serveNodeLoopback(fetch: (request: Request, env?: unknown) => Response | Promise<Response>): Promise<LoopbackServer> {
  const server = createServer(getRequestListener(fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    request: (path, init) =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method, headers: init.headers, agent: false }, (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
          response.once('error', reject);
        });
        req.once('error', reject);
        req.end(init.body);
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
