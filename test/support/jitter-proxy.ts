/** A TCP proxy that delays what the server sends by a random delay per chunk (in order, as TCP keeps it): a jittery link. */
import { createConnection, createServer, type Socket } from 'node:net';

export interface JitterProxy {
  /** `http://127.0.0.1:<port>`: the relay behind the link. */
  url: string;
  close(): Promise<void>;
}

/** Each chunk from the server is held `baseMs ± jitterMs` (uniform), never overtaking the one before it. */
export async function startJitterProxy(targetPort: number, baseMs: number, jitterMs: number, random = Math.random): Promise<JitterProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client).add(upstream);
    let lastDue = 0;
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      const due = Math.max(lastDue, performance.now() + baseMs + (random() * 2 - 1) * jitterMs);
      lastDue = due;
      setTimeout(() => client.destroyed || client.write(chunk), due - performance.now());
    });
    const end = (): void => {
      setTimeout(() => {
        client.destroy();
        upstream.destroy();
      }, baseMs + jitterMs);
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
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
