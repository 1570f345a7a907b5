/**
 * The two client-facing timings of the Cartesia-compatible ingress, on the embedded engine with real-time
 * playout: a second context's first audio while a first one is long (pipecat's pattern: several contexts on
 * one socket), and the next turn's first audio after a client closes its socket mid-reply to interrupt
 * (LiveKit's pattern: a pooled socket closed on interruption, a new one per turn).
 *
 *   node --import tsx test/bench/compat-timing.ts [runs]
 */
import WebSocket from 'ws';
import { startNodeRelay } from '../../worker/runtime/node.ts';

const ADMIN_KEY = 'bench-admin-key-0123456789';
const LONG_REPLY =
  'Here is a long answer that takes several seconds to say. It goes on about the weather, the traffic and the news, ' +
  'so that the second context has to wait if contexts do not run side by side. It ends with a short closing sentence.';
const SHORT_REPLY = 'And this is the second context.';

interface Client {
  socket: WebSocket;
  firstAudio(contextId: string): Promise<number>;
  send(message: Record<string, unknown>): void;
}

async function open(url: string): Promise<Client> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/tts/websocket?stream=bench&cartesia_version=2026-03-01`, { headers: { 'x-api-key': ADMIN_KEY } });
  const firsts = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type: string; context_id?: string };
    if (message.type !== 'chunk' || !message.context_id || firsts.has(message.context_id)) return;
    const at = performance.now();
    firsts.set(message.context_id, at);
    waiters.get(message.context_id)?.(at);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    send: (message) => socket.send(JSON.stringify(message)),
    firstAudio: (id) => new Promise((resolve) => (firsts.has(id) ? resolve(firsts.get(id)!) : waiters.set(id, resolve))),
  };
}

const request = (contextId: string, transcript: string, more: boolean) => ({
  context_id: contextId,
  model_id: 'sonic-3',
  transcript,
  voice: { mode: 'id', id: 'en' },
  output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 22050 },
  continue: more,
});

async function secondContext(url: string, run: number): Promise<number> {
  const client = await open(url);
  client.send(request(`long-${run}`, LONG_REPLY, false));
  const sent = performance.now();
  client.send(request(`short-${run}`, SHORT_REPLY, false));
  const first = await client.firstAudio(`short-${run}`);
  client.socket.close();
  return first - sent;
}

async function nextTurnAfterClose(url: string, run: number): Promise<number> {
  const first = await open(url);
  // A reply streamed in pieces and left open, as an LLM turn is, then interrupted by closing the socket.
  first.send(request(`turn-${run}`, LONG_REPLY, true));
  await first.firstAudio(`turn-${run}`);
  first.socket.close();
  const second = await open(url);
  const sent = performance.now();
  second.send(request(`next-${run}`, SHORT_REPLY, false));
  const at = await second.firstAudio(`next-${run}`);
  second.socket.close();
  return at - sent;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const relay = await startNodeRelay({ port: 0, host: '127.0.0.1', quiet: true, env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: ADMIN_KEY } });
  const limit = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no audio within 60 s')), 60_000))]);
  try {
    const idle = async () => {
      while (relay.relay.busy) await new Promise((r) => setTimeout(r, 100));
    };
    const seconds: number[] = [];
    const turns: number[] = [];
    for (let run = 0; run < runs; run++) {
      await idle();
      seconds.push(await limit(secondContext(relay.url, run)));
      await idle();
      turns.push(await limit(nextTurnAfterClose(relay.url, run)));
    }
    const show = (xs: number[]) => xs.map((x) => `${Math.round(x)} ms`).join(', ');
    console.log(`second context's first audio: ${show(seconds)}`);
    console.log(`next turn's first audio after a close: ${show(turns)}`);
  } finally {
    await relay.close();
  }
}

await main();
