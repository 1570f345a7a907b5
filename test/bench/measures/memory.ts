/**
 * Memory: RSS growth per 1,000 idle listeners (against a bare WebSocket server holding the same sockets on
 * the same runtime) and per stream (listeners spread one per stream, against the same count on one stream).
 * Each figure is read after a full garbage collection in the server's own process.
 */
import { type Runtime, spawnChild, type BenchChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { Usage } from '../control.ts';
import type { BenchContext } from '../context.ts';
import { row, type Row, verdict } from '../report.ts';
import { startSwarm, type Swarm } from './fan-out.ts';

export interface MemoryResult {
  runtime: Runtime;
  listeners: number;
  streams: number;
  relay: { perListenerBytes: number; perListenerHeapBytes: number; perStreamBytes: number; perStreamHeapBytes: number; baseRssBytes: number };
  baseline: { perListenerBytes: number; perListenerHeapBytes: number; baseRssBytes: number };
}

// Sockets join in steps and the server settles before each reading, so RSS reflects them and not a burst.
const SETTLE_MS = 700;
/**
 * After a connect burst a server's RSS keeps moving after its collection: a Bun relay read 7.3 MiB over its start a
 * second after 1,000 handshakes, 1.1 over it a second later and within 0.25 from then on (the bare server, whose
 * handshakes make little garbage, +1.3 at once, then within 0.2), and a fresh relay drifts down for a while after it
 * looked still. So each reading waits until SETTLED_READINGS a second apart lie within SETTLED_BYTES and takes
 * their median, the same rule for both servers.
 */
const SETTLED_READINGS = 4;
const SETTLED_BYTES = 384 * 1024;
const SETTLED_BOUND_MS = 30_000;
/**
 * A fresh server's RSS moves by tens of MiB in its first seconds (the engine's warm-up, the rehearsal utterance, the
 * allocator handing pages back): before its first reading it must hold still this long, within STILL_BYTES. The
 * bare server waits by the same rule.
 */
const STILL_READINGS = 4;
const STILL_BYTES = 2 * 1024 * 1024;
const STILL_BOUND_MS = 30_000;
/**
 * Node servers run without V8's memory reducer. It gives an idle isolate's garbage back 8-30 s after its last
 * collection, in every thread: the relay's espeak thread let 90 MiB go 15 s after start, after 14 s of stillness, and
 * 18 MiB more at 32 s (the bare server's tsx loader thread a few MiB), landing between a round's two readings at random.
 * Each reading collects the main thread's garbage itself (control.ts), where the sockets live.
 */
const NODE_FLAGS = ['--no-memory-reducer'];
/**
 * Listeners connected before the first reading, on both servers (on a path of their own): the code their path runs is
 * compiled, then optimised, once per process over the first thousand or so sockets, and the allocator's arenas grow to
 * their working size, which is no listener's memory. Measured with 250 before the first reading, the relay's code still
 * grew 0.2 MiB over the next 1,000 on Node; on Bun those 1,000 took 3.0-3.3 KiB each and the 1,000 after them 1.1-1.4
 * (the bare server: 1.3, then 1.1-1.2).
 */
const WARM_UP_LISTENERS = 1000;

const serverFlags = (runtime: Runtime) => (runtime === 'node' ? { runtimeFlags: NODE_FLAGS } : {});

/** Waits (at most STILL_BOUND_MS) until the child's RSS after a GC held within STILL_BYTES for STILL_READINGS seconds. */
async function stillness(child: BenchChild): Promise<void> {
  const readings: number[] = [];
  const deadline = performance.now() + STILL_BOUND_MS;
  while (performance.now() < deadline) {
    readings.push((await child.settledUsage()).anonRssBytes);
    const last = readings.slice(-STILL_READINGS);
    if (last.length === STILL_READINGS && Math.max(...last) - Math.min(...last) <= STILL_BYTES) return;
    await sleep(1000);
  }
}

async function settled(child: BenchChild, mode: BenchContext['mode']): Promise<Usage> {
  await sleep(SETTLE_MS);
  await child.settledUsage();
  if (mode === 'smoke') return child.settledUsage();
  const readings: Usage[] = [];
  const deadline = performance.now() + SETTLED_BOUND_MS;
  for (;;) {
    readings.push(await child.settledUsage());
    const last = readings.slice(-SETTLED_READINGS).sort((a, b) => a.anonRssBytes - b.anonRssBytes);
    const still = last.length === SETTLED_READINGS && last.at(-1)!.anonRssBytes - last[0]!.anonRssBytes <= SETTLED_BYTES;
    if (still || performance.now() > deadline) return last[Math.floor((last.length - 1) / 2)]!;
    await sleep(1000);
  }
}

export async function growth(ctx: BenchContext, child: BenchChild, connect: () => Promise<void>): Promise<{ before: Usage; after: Usage }> {
  const before = await settled(child, ctx.mode);
  await connect();
  const after = await settled(child, ctx.mode);
  return { before, after };
}

const warmUpListeners = (ctx: BenchContext) => (ctx.mode === 'smoke' ? 1 : WARM_UP_LISTENERS);

/** Starts a fresh relay, connects `paths` (one listener each, round robin) and returns its growth. */
export async function relayGrowth(ctx: BenchContext, runtime: Runtime, swarm: Swarm, paths: string[], count: number): Promise<{ before: Usage; after: Usage }> {
  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    ...serverFlags(runtime),
    env: { TTS_PROVIDER: 'espeak', ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  try {
    const headers = { authorization: `Bearer ${ctx.adminKey}` };
    if (ctx.mode !== 'smoke') await stillness(relay);
    await swarm.connect(relay.info.url, '/v1/streams/warm-up/listen', warmUpListeners(ctx), ctx.adminKey);
    return await growth(ctx, relay, async () => {
      const result = await swarm.child.call<{ failed: number; firstError: string | null }>(
        'connect',
        { url: relay.info.url, paths, count, headers, concurrency: 64 },
        180_000,
      );
      if (result.failed > 0) throw new Error(`${result.failed} of ${count} listeners failed to connect: ${result.firstError}`);
    });
  } finally {
    await swarm.closeAll();
    await relay.stop();
  }
}

/** Starts a fresh bare server, settled by the same rule as the relay, connects `count` listeners and returns its growth. */
export async function bareGrowth(ctx: BenchContext, runtime: Runtime, swarm: Swarm, count: number): Promise<{ before: Usage; after: Usage }> {
  const bare = await spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime, ...serverFlags(runtime) });
  try {
    if (ctx.mode !== 'smoke') await stillness(bare);
    await swarm.connect(bare.info.url, '/warm-up', warmUpListeners(ctx));
    return await growth(ctx, bare, () => swarm.connect(bare.info.url, '/', count));
  } finally {
    await swarm.closeAll();
    await bare.stop();
  }
}

export async function measureMemory(ctx: BenchContext, runtime: Runtime): Promise<MemoryResult> {
  const listeners = ctx.mode === 'smoke' ? 50 : 4000;
  const streams = ctx.mode === 'smoke' ? 30 : 1500;
  const swarm = await startSwarm();
  try {
    const oneStream = await relayGrowth(ctx, runtime, swarm, ['/v1/streams/idle/listen'], listeners);
    const sameCount = await relayGrowth(ctx, runtime, swarm, ['/v1/streams/idle/listen'], streams);
    const spread = await relayGrowth(ctx, runtime, swarm, Array.from({ length: streams }, (_, i) => `/v1/streams/idle-${i}/listen`), streams);
    const delta = (g: { before: Usage; after: Usage }, field: keyof Usage) => g.after[field] - g.before[field];
    const relayFigures: MemoryResult['relay'] = {
      perListenerBytes: delta(oneStream, 'anonRssBytes') / listeners,
      perListenerHeapBytes: delta(oneStream, 'heapUsedBytes') / listeners,
      perStreamBytes: (delta(spread, 'anonRssBytes') - delta(sameCount, 'anonRssBytes')) / streams,
      perStreamHeapBytes: (delta(spread, 'heapUsedBytes') - delta(sameCount, 'heapUsedBytes')) / streams,
      baseRssBytes: oneStream.before.rssBytes,
    };

    const bare = await bareGrowth(ctx, runtime, swarm, listeners);
    const baseline: MemoryResult['baseline'] = {
      perListenerBytes: delta(bare, 'anonRssBytes') / listeners,
      perListenerHeapBytes: delta(bare, 'heapUsedBytes') / listeners,
      baseRssBytes: bare.before.rssBytes,
    };
    ctx.log(
      `  memory (${runtime}): relay ${(relayFigures.perListenerBytes / 1024).toFixed(1)} KiB/listener, ` +
        `${(relayFigures.perStreamBytes / 1024).toFixed(1)} KiB/stream; bare ${(baseline.perListenerBytes / 1024).toFixed(1)} KiB/listener`,
    );
    return { runtime, listeners, streams, relay: relayFigures, baseline };
  } finally {
    await swarm.child.stop();
  }
}

export function memoryRows(result: MemoryResult): Row[] {
  const rt = result.runtime;
  const perThousand = (bytes: number) => (bytes * 1000) / 1024 / 1024;
  const kib = result.relay.perListenerBytes / 1024;
  return [
    row({
      item: 3,
      figure: `RSS per 1,000 idle listeners (${rt}, ${result.listeners.toLocaleString('en-US')} on one stream)`,
      unit: 'MiB',
      relay: perThousand(result.relay.perListenerBytes),
      baseline: perThousand(result.baseline.perListenerBytes),
      baselineName: rt === 'bun' ? 'bare Bun.serve' : 'bare ws server',
      ...(rt === 'bun' ? { target: '≤ 20 KB per listener (19.5 MiB/1,000)', verdict: verdict(kib * 1024 <= 20_000) } : {}),
    }),
    row({
      item: 3,
      figure: `JS heap per 1,000 idle listeners (${rt})`,
      unit: 'MiB',
      relay: perThousand(result.relay.perListenerHeapBytes),
      baseline: perThousand(result.baseline.perListenerHeapBytes),
      baselineName: rt === 'bun' ? 'bare Bun.serve' : 'bare ws server',
    }),
    row({
      item: 3,
      figure: `RSS per idle stream, beyond its listener (${rt}, ${result.streams.toLocaleString('en-US')} streams vs one)`,
      unit: 'KiB',
      relay: result.relay.perStreamBytes / 1024,
      baseline: result.relay.perListenerBytes / 1024,
      baselineName: 'one idle listener',
    }),
  ];
}
