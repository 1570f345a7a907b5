/** A counting TCP proxy in front of Redis, one per relay process: measures its Redis traffic and can cut it off. */
import { createConnection, createServer, type Socket } from 'node:net';

export interface CountingProxy {
  url: string;
  /** Bytes from the relay to Redis, and from Redis to the relay, since the last reset. */
  readonly toRedis: number;
  readonly fromRedis: number;
  reset(): void;
  /** Drops every connection and refuses new ones, like Redis vanishing for this relay. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const sockets = new Set<Socket>();
  let toRedis = 0;
  let fromRedis = 0;
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      toRedis += chunk.byteLength;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      fromRedis += chunk.byteLength;
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    get toRedis() {
      return toRedis;
    },
    get fromRedis() {
      return fromRedis;
    },
    reset() {
      toRedis = 0;
      fromRedis = 0;
    },
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      refusing = false;
    },
    async close() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
