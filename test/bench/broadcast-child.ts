/**
 * The fan-out baseline: a bare broadcast server on the same runtime that does nothing but write the same
 * framed audio bytes, at the relay's pace, to every connected socket — `ws` clients loop on Node (the ws
 * README's broadcast), `server.publish` on Bun. Whatever the relay spends beyond this is its own overhead.
 * It sends the relay's heartbeat too, from the first play on and between plays, as the relay does from its start.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeAudioFrame } from '../../shared/protocol.ts';
import { runtimeName, serveControl } from './control.ts';

/** Sockets are grouped by the path they connected on; a broadcast goes to every socket or to one path's. */
interface Broadcaster {
  url: string;
  clients(): number;
  broadcast(message: string | Uint8Array, path?: string): void;
}

interface BunServer {
  port: number;
  upgrade(request: Request, options: { data: { path: string } }): boolean;
  publish(topic: string, data: string | Uint8Array): number;
  subscriberCount(topic: string): number;
}

interface BunServeOptions {
  port: number;
  hostname: string;
  fetch(request: Request, server: BunServer): Response | undefined;
  websocket: { open(ws: { subscribe(topic: string): void; data: { path: string } }): void; message(): void; perMessageDeflate: boolean };
}

const TOPIC = 'audio';

async function startNode(): Promise<Broadcaster> {
  const server = createServer((_request, response) => response.writeHead(404).end());
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const paths = new Map<string, Set<WebSocket>>();
  wss.on('connection', (ws, request) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (!paths.has(path)) paths.set(path, new Set());
    paths.get(path)!.add(ws);
    ws.once('close', () => paths.get(path)?.delete(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    clients: () => wss.clients.size,
    broadcast(message, path) {
      const clients = path === undefined ? (wss.clients as Set<WebSocket>) : (paths.get(path) ?? []);
      for (const client of clients) if (client.readyState === 1) client.send(message);
    },
  };
}

function startBun(): Broadcaster {
  const bun = (globalThis as unknown as { Bun: { serve(options: BunServeOptions): BunServer } }).Bun;
  const server = bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (request, srv) => (srv.upgrade(request, { data: { path: new URL(request.url).pathname } }) ? undefined : new Response('not found', { status: 404 })),
    websocket: {
      open(ws) {
        ws.subscribe(TOPIC);
        ws.subscribe(`path:${ws.data.path}`);
      },
      message: () => {},
      perMessageDeflate: false,
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    clients: () => server.subscriberCount(TOPIC),
    broadcast: (message, path) => void server.publish(path === undefined ? TOPIC : `path:${path}`, message),
  };
}

const broadcaster = runtimeName() === 'bun' ? startBun() : await startNode();
let timer: ReturnType<typeof setTimeout> | null = null;
let heartbeat: ReturnType<typeof setInterval> | null = null;

serveControl({ url: broadcaster.url }, {
  /**
   * Sends one frame of `payloadBytes` every `frameMs` of audio, released at most `leadMs` ahead of real
   * time — the relay's playout rule — to every socket, or with `path` to the sockets that connected on it; `heartbeatMs`
   * starts the relay's heartbeat message at that interval. Each frame is framed anew with its sample offset
   * (`samplesPerFrame` apart), as any broadcast of live audio frames each chunk it gets: the same bytes as the relay's
   * frames, header included, and one array per frame.
   */
  play(args) {
    const payloadBytes = Number(args.payloadBytes);
    const frameMs = Number(args.frameMs);
    const leadMs = Number(args.leadMs);
    const path = args.path === undefined ? undefined : String(args.path);
    if (!(frameMs > 0) || !(payloadBytes >= 0)) throw new Error(`play needs a positive frame duration and a payload size (got ${frameMs} ms, ${payloadBytes} bytes)`);
    const samplesPerFrame = Number(args.samplesPerFrame ?? 0);
    const payload = new Uint8Array(payloadBytes);
    let sampleOffset = 0;
    let timelineEnd = performance.now();
    // At most a lead's worth of frames per turn: a server that cannot keep up still yields to its sockets.
    const maxBurst = Math.max(1, Math.ceil(leadMs / frameMs));
    const tick = () => {
      for (let sent = 0; sent < maxBurst && timelineEnd - performance.now() < leadMs; sent++) {
        broadcaster.broadcast(encodeAudioFrame(1, sampleOffset, payload), path);
        sampleOffset += samplesPerFrame;
        timelineEnd = Math.max(timelineEnd, performance.now()) + frameMs;
      }
      timer = setTimeout(tick, Math.max(0, timelineEnd - performance.now() - leadMs));
    };
    if (timer) clearTimeout(timer);
    tick();
    const heartbeatMs = Number(args.heartbeatMs);
    if (heartbeatMs > 0) heartbeat ??= setInterval(() => broadcaster.broadcast(JSON.stringify({ type: 'heartbeat', time: Date.now() })), heartbeatMs);
    return { clients: broadcaster.clients() };
  },
  stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    return { clients: broadcaster.clients() };
  },
  clients: () => ({ clients: broadcaster.clients() }),
});
