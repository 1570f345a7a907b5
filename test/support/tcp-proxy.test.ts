/**
 * The test link itself: whatever its delay, jitter or stalls, bytes come out in the order they went in, all of them
 * (the two-room tests read any reordering as audio lost by the agent).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const BURSTS = 40;
const PER_BURST = 25;
const TOTAL = BURSTS * PER_BURST;

let server: Server | undefined;
let proxy: TcpProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

/** A server that writes numbered records in bursts of separate writes, as the relay writes a burst of frames. */
async function burstingServer(): Promise<number> {
  server = createServer((socket: Socket) => {
    let burst = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < PER_BURST; i++) socket.write(`${burst * PER_BURST + i};`);
      if (++burst === BURSTS) clearInterval(timer), socket.end();
    }, 15);
    socket.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function receiveAll(port: number): { bytes(): number; all: Promise<number[]> } {
  let text = '';
  const all = new Promise<number[]>((resolve, reject) => {
    const client = createConnection({ port, host: '127.0.0.1' });
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    client.on('error', reject);
    client.on('end', () => resolve(text.split(';').filter(Boolean).map(Number)));
  });
  return { bytes: () => text.length, all };
}

describe('the test TCP proxy', () => {
  it('keeps every byte in order through 150 ± 40 ms of jitter', async () => {
    proxy = await startTcpProxy(await burstingServer(), { down: { ms: 150, jitterMs: 40 } });
    expect(await receiveAll(proxy.port).all).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
  });

  it('holds everything through a stall and then delivers it, in order', async () => {
    proxy = await startTcpProxy(await burstingServer(), { down: { ms: 20, jitterMs: 15 } });
    const receiving = receiveAll(proxy.port);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sentBefore = proxy.fromServer;
    const stalled = proxy.stall(400);
    // What the proxy had written before the stall is read within this margin (a loaded machine's event loop).
    await new Promise((resolve) => setTimeout(resolve, 100));
    const receivedEarly = receiving.bytes();
    await stalled;
    expect(receiving.bytes(), 'nothing delivered during the stall').toBe(receivedEarly);
    expect(proxy.fromServer, 'the server kept writing during the stall').toBeGreaterThan(sentBefore);
    expect(await receiving.all).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
  });
});
