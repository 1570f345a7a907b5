/**
 * Node's private loopback server for the warm-up (RuntimeAdapter.serveLoopback): @hono/node-server with ws, as the
 * relay's own server, so a rehearsed request runs Node's parser, the adapter's request and response code and the
 * body read off the IncomingMessage (~4 ms of a first utterance on its main thread when they were left cold), and
 * a rehearsed listener runs ws's handshake and the socket group's framed writes to a real TCP socket (1-3 ms of
 * each of the first utterances' first audio frame when only fake sockets had been written).
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { WebSocket, WebSocketServer } from 'ws';
import type { LoopbackServer } from './contract.ts';

export async function serveNodeLoopback(fetch: (request: Request, env?: unknown) => Response | Promise<Response>): Promise<LoopbackServer> {
  const wss = new WebSocketServer({ noServer: true });
  const server = createAdaptorServer({ fetch, websocket: { server: wss } });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const clients = new Set<WebSocket>();
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
    openSocket: (path, headers, onMessage) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
        clients.add(socket);
        socket.on('message', (data, binary) => onMessage(binary ? (data as Buffer) : data.toString()));
        // A close handshake, as a listener's client ends: ws's code for a close frame was the one part of a first
        // utterance's main-thread path still cold after the rehearsal (V8 call counts before and during it).
        socket.once('open', () => resolve({ close: () => socket.close() }));
        socket.once('error', reject);
      }),
    close: () =>
      new Promise((resolve) => {
        for (const socket of clients) socket.terminate();
        for (const socket of wss.clients) socket.terminate();
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
