/**
 * A TCP proxy in front of a local server, for links that misbehave: it counts the bytes each way, can delay each
 * chunk (a slow, jittery link; chunks stay in order, as TCP keeps them), stall (hold everything, drop nothing, then
 * deliver it all) and cut (drop every connection and refuse new ones, like the server vanishing).
 */
import { createConnection, createServer, type Socket } from 'node:net';

/** Each chunk held `ms ± jitterMs` (uniform), never overtaking the one before it. */
export interface LinkDelay {
  ms: number;
  jitterMs?: number;
}

export interface TcpProxyOptions {
  /** Delay of what the server sends (towards the client). */
  down?: LinkDelay;
  /** Delay of what the client sends (towards the server). */
  up?: LinkDelay;
  /** Random numbers in [0, 1) for the jitter (default Math.random). */
  random?: () => number;
}

export interface TcpProxy {
  port: number;
  /** `<scheme>://127.0.0.1:<port>`: the server behind the link. */
  url(scheme?: string): string;
  /** Connections accepted since start (or the last reset). */
  readonly connections: number;
  /** Bytes from the clients to the server, and from the server to the clients, since start or the last reset. */
  readonly toServer: number;
  readonly fromServer: number;
  reset(): void;
  /** Holds every byte in both directions for `ms` (connections stay open), then delivers what was held, in order. */
  stall(ms: number): Promise<void>;
  /** Drops every connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * One direction of one connection: writes each chunk when its delay and any stall are over, in order. One timer for
 * the head of a queue: a timer per chunk reorders chunks due within a millisecond of each other (Node's timers run
 * from the loop's cached time, so a later-made timer can fire first), which TCP never does.
 */
class Pipe {
  private lastDue = 0;
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly to: Socket,
    private readonly delay: LinkDelay | undefined,
    private readonly random: () => number,
    private readonly stalledUntil: () => number,
  ) {}

  send(chunk: Buffer): void {
    const now = performance.now();
    const delay = this.delay ? this.delay.ms + (this.random() * 2 - 1) * (this.delay.jitterMs ?? 0) : 0;
    this.lastDue = Math.max(this.lastDue, now + delay, this.stalledUntil());
    this.queue.push({ due: this.lastDue, chunk });
    this.flush();
  }

  /** Resolves once every chunk sent so far has been written. */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes every chunk that is due, then waits for the next one (a stall begun since holds it further). */
  private flush(): void {
    if (this.timer !== null) return;
    const now = performance.now();
    const stalledUntil = this.stalledUntil();
    while (this.queue.length > 0 && this.queue[0]!.due <= now && stalledUntil <= now) {
      const { chunk } = this.queue.shift()!;
      if (!this.to.destroyed) this.to.write(chunk);
    }
    if (this.queue.length === 0) {
      for (const resolve of this.waiters.splice(0)) resolve();
      return;
    }
    const wait = Math.max(this.queue[0]!.due, stalledUntil) - now;
    this.timer = setTimeout(() => ((this.timer = null), this.flush()), Math.max(1, wait));
  }
}

interface LinkState {
  sockets: Set<Socket>;
  counts: { connections: number; toServer: number; fromServer: number };
  stalledUntil: number;
}

/** One client's connection, piped to the server through the link's delays and stalls. */
function connect(client: Socket, targetPort: number, options: TcpProxyOptions, link: LinkState): void {
  const random = options.random ?? Math.random;
  link.counts.connections++;
  const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
  link.sockets.add(client).add(upstream);
  const up = new Pipe(upstream, options.up, random, () => link.stalledUntil);
  const down = new Pipe(client, options.down, random, () => link.stalledUntil);
  client.on('data', (chunk: Buffer) => {
    link.counts.toServer += chunk.byteLength;
    up.send(chunk);
  });
  upstream.on('data', (chunk: Buffer) => {
    link.counts.fromServer += chunk.byteLength;
    down.send(chunk);
  });
  // What is still held in a pipe is delivered before the other side is closed.
  const end = (): void => {
    link.sockets.delete(client);
    link.sockets.delete(upstream);
    void Promise.all([up.drained(), down.drained()]).then(() => (client.destroy(), upstream.destroy()));
  };
  for (const socket of [client, upstream]) socket.on('close', end).on('error', end);
}

export async function startTcpProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const link: LinkState = { sockets: new Set(), counts: { connections: 0, toServer: 0, fromServer: 0 }, stalledUntil: 0 };
  let refusing = false;
  const server = createServer((client) => (refusing ? client.destroy() : connect(client, targetPort, options, link)));
  const dropAll = (): void => {
    for (const socket of link.sockets) socket.destroy();
    link.sockets.clear();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    url: (scheme = 'http') => `${scheme}://127.0.0.1:${port}`,
    get connections() {
      return link.counts.connections;
    },
    get toServer() {
      return link.counts.toServer;
    },
    get fromServer() {
      return link.counts.fromServer;
    },
    reset() {
      link.counts = { connections: 0, toServer: 0, fromServer: 0 };
    },
    stall(ms) {
      link.stalledUntil = Math.max(link.stalledUntil, performance.now() + ms);
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    cut() {
      refusing = true;
      dropAll();
    },
    restore() {
      refusing = false;
    },
    async close() {
      refusing = true;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
