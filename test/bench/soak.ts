/**
 * `npm run soak`: a relay (its own process, the embedded engine) under long churn, its RSS sampled: listeners
 * joining and leaving, listeners that drop mid-utterance without a close frame, listeners that stop reading,
 * continuous speech on every stream with barge-ins, and a spell past fan-out capacity. Not part of npm test.
 *
 *   npm run soak [-- --minutes 15] [--runtime node|bun] [--listeners 100] [--streams 4] [--overload 3000]
 *                [--bound-mb 64] [--out FILE]
 *
 * Passes when the relay's RSS after a full GC at the end is within `--bound-mb` of the same reading after
 * the warm-up, and the trend of those readings after the overload spell is under 2 MB a minute.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { type BenchChild, type Runtime, spawnChild } from './child-process.ts';
import { freePort, sleep } from './clock.ts';
import type { Usage } from './control.ts';
import { startSwarm } from './measures/fan-out.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '15' },
    runtime: { type: 'string', default: 'node' },
    listeners: { type: 'string', default: '100' },
    streams: { type: 'string', default: '4' },
    overload: { type: 'string', default: '3000' },
    'bound-mb': { type: 'string', default: '64' },
    out: { type: 'string' },
  },
});
const MINUTES = Number(values.minutes);
const RUNTIME = values.runtime as Runtime;
const LISTENERS = Number(values.listeners);
const STREAMS = Number(values.streams);
const OVERLOAD = Number(values.overload);
const BOUND_BYTES = Number(values['bound-mb']) * 2 ** 20;
const KEY = 'soak-admin-key-0123456789abcdef';
const SAMPLE_MS = 5000;
// RSS settles once the engine, the thread and the first sockets are up; growth is counted from there.
const WARM_UP_MS = Math.min(60_000, MINUTES * 60_000 * 0.1);
const OVERLOAD_MS = 60_000;
const MAX_TREND_MB_PER_MIN = 2;
// A listener that stops reading is first absorbed by the kernel's socket buffers (up to tcp_rmem's and
// tcp_wmem's maximum: 32 + 4 MB on this machine, over three minutes of f32 audio), and only then by
// RELAY_LISTENER_MAX_BUFFERED_SECONDS (30 s) in the relay, which then drops it (4008).
const STALL_LIMIT_MS = 180_000;
const PARAGRAPH =
  'The relay keeps speaking while listeners come and go. Some of them leave politely, some vanish without a word, ' +
  'and some simply stop reading what they are sent. None of that may make the relay hold on to memory it no longer needs. ';

const started = performance.now();
const elapsed = () => performance.now() - started;
const log = (line: string) => process.stderr.write(`[${(elapsed() / 1000).toFixed(0).padStart(5)} s] ${line}\n`);
const counts: Record<string, number> = {};
const count = (what: string) => void (counts[what] = (counts[what] ?? 0) + 1);
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
const between = (low: number, high: number) => low + Math.random() * (high - low);

const port = await freePort();
const relay: BenchChild<{ url: string }> = await spawnChild('test/bench/relay-child.ts', {
  runtime: RUNTIME,
  env: {
    PORT: String(port),
    TTS_PROVIDER: 'espeak',
    RELAY_ADMIN_KEY: KEY,
    LOG_LEVEL: 'error',
    RELAY_MAX_CONNECTIONS: '20000',
    RELAY_MAX_CONNECTIONS_PER_IP: '20000',
    RELAY_MAX_LISTENERS_PER_STREAM: '20000',
    RELAY_TOKEN_RATE: '1000',
    RELAY_TOKEN_BURST: '1000',
  },
});
const base = relay.info.url;
const streams = Array.from({ length: STREAMS }, (_, i) => `soak-${i}`);
const deadline = MINUTES * 60_000;
const running = () => elapsed() < deadline;

/** One listener slot: joins, behaves as its kind says, leaves, and joins again until the soak ends. */
async function listenerLoop(kind: 'polite' | 'dropper' | 'staller'): Promise<void> {
  while (running()) {
    const url = `${base.replace(/^http/, 'ws')}/v1/streams/${pick(streams)}/listen`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${KEY}` } });
    socket.on('error', () => count(`${kind}_socket_errors`));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const opened = await new Promise<boolean>((resolve) => {
      socket.once('open', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!opened) {
      count(`${kind}_refused`);
      await sleep(1000);
      continue;
    }
    count(`${kind}_joined`);
    if (kind === 'polite') {
      await Promise.race([sleep(between(2000, 20_000)), closed]);
      socket.close();
    } else if (kind === 'dropper') {
      // Mid-utterance: at the first audio frame, or soon anyway; gone without a close frame.
      await Promise.race([new Promise((resolve) => socket.once('message', resolve)), sleep(between(500, 3000)), closed]);
      await sleep(between(0, 1500));
      socket.terminate();
    } else {
      // Stops reading: the kernel buffers fill and the relay's own buffer grows until it drops the listener.
      (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const code = await Promise.race([closed, sleep(STALL_LIMIT_MS).then(() => -1)]);
      count(code === -1 ? 'staller_still_open' : `staller_closed_by_relay_${code}`);
      socket.terminate();
    }
    await closed;
    await sleep(between(0, 2000));
  }
}

async function post(stream: string, text: string, query: string): Promise<void> {
  try {
    const response = await fetch(`${base}/v1/streams/${stream}/speak?${query}`, { method: 'POST', body: text, headers: { authorization: `Bearer ${KEY}` } });
    const body = (await response.json()) as { reason?: string; error?: { code: string } };
    count(`speak_${response.status}_${body.reason ?? body.error?.code ?? 'accepted'}`);
  } catch {
    count('speak_failed');
  }
}

/** Continuous speech on a stream: one paragraph after the other, each awaited. */
async function speakerLoop(stream: string): Promise<void> {
  while (running()) await post(stream, PARAGRAPH, 'wait=true');
}

/** Barge-ins on a random stream every few seconds. */
async function bargeInLoop(): Promise<void> {
  while (running()) {
    await sleep(between(4000, 12_000));
    if (running()) await post(pick(streams), 'Sorry to interrupt. ', 'interrupt=true');
  }
}

/** Halfway through: many listeners at once on one stream, beyond what the relay sends in real time, then gone. */
async function overloadSpell(): Promise<void> {
  if (OVERLOAD <= 0) return;
  await sleep(deadline / 2 - OVERLOAD_MS / 2);
  const swarm = await startSwarm();
  try {
    log(`overload: ${OVERLOAD} listeners on ${streams[0]}`);
    await swarm.child.call('connect', { url: base, path: `/v1/streams/${streams[0]}/listen`, count: OVERLOAD, headers: { authorization: `Bearer ${KEY}` }, concurrency: 64 }, 180_000);
    await sleep(OVERLOAD_MS);
    await swarm.child.call('closeAll');
    log('overload: closed');
  } finally {
    await swarm.child.stop();
  }
}

interface Sample {
  seconds: number;
  rssMB: number;
  heapMB: number;
  settled?: boolean;
}
const samples: Sample[] = [];
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const record = (usage: Usage, settled = false) =>
  samples.push({ seconds: Math.round(elapsed() / 1000), rssMB: mb(usage.rssBytes), heapMB: mb(usage.heapUsedBytes), ...(settled ? { settled } : {}) });

async function sampler(): Promise<{ warm: Usage; end: Usage }> {
  let warm: Usage | null = null;
  let minute = 0;
  while (running()) {
    await sleep(SAMPLE_MS);
    if (!warm && elapsed() >= WARM_UP_MS) {
      warm = await relay.settledUsage();
      record(warm, true);
      log(`warm: RSS ${mb(warm.rssBytes)} MB after GC`);
      continue;
    }
    const usage = Math.floor(elapsed() / 60_000) > minute ? await relay.settledUsage() : await relay.usage();
    const settled = Math.floor(elapsed() / 60_000) > minute;
    if (settled) minute = Math.floor(elapsed() / 60_000);
    record(usage, settled);
    if (settled) log(`RSS ${mb(usage.rssBytes)} MB (after GC), heap ${mb(usage.heapUsedBytes)} MB; ${JSON.stringify(counts)}`);
  }
  // Everyone has left and the last utterances have ended: what the relay still holds is what it kept.
  await sleep(5000);
  const end = await relay.settledUsage();
  record(end, true);
  return { warm: warm ?? end, end };
}

/** Least-squares slope of RSS over time, MB per minute. */
function slope(points: Sample[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.seconds, 0) / n;
  const my = points.reduce((s, p) => s + p.rssMB, 0) / n;
  const num = points.reduce((s, p) => s + (p.seconds - mx) * (p.rssMB - my), 0);
  const den = points.reduce((s, p) => s + (p.seconds - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

log(`soak: ${MINUTES} min on ${RUNTIME}, ${LISTENERS} listeners over ${STREAMS} streams, overload ${OVERLOAD}`);
const kinds = Array.from({ length: LISTENERS }, (_, i) => (i % 5 === 0 ? 'staller' : i % 5 === 1 ? 'dropper' : 'polite') as 'polite' | 'dropper' | 'staller');
const work = [...kinds.map((kind) => listenerLoop(kind)), ...streams.map((s) => speakerLoop(s)), bargeInLoop(), overloadSpell()];
const { warm, end } = await sampler();
await Promise.allSettled(work);
await relay.stop();

const peak = Math.max(...samples.map((s) => s.rssMB));
// The trend of the readings after a GC once the overload spell is over: a leak climbs, churn wobbles.
const secondHalf = samples.filter((s) => s.seconds * 1000 >= deadline / 2 + OVERLOAD_MS && s.settled);
const trend = slope(secondHalf);
const growth = end.rssBytes - warm.rssBytes;
const pass = growth <= BOUND_BYTES && trend < MAX_TREND_MB_PER_MIN;
const result = {
  runtime: RUNTIME,
  minutes: MINUTES,
  listeners: LISTENERS,
  streams: STREAMS,
  overload: OVERLOAD,
  warmRssMB: mb(warm.rssBytes),
  endRssMB: mb(end.rssBytes),
  peakRssMB: peak,
  growthMB: mb(growth),
  secondHalfTrendMBPerMin: Math.round(trend * 100) / 100,
  boundMB: mb(BOUND_BYTES),
  pass,
  counts,
  samples,
};
const out = values.out ?? fileURLToPath(new URL(`./results/soak-${RUNTIME}.json`, import.meta.url));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
log(
  `RSS after GC: ${result.warmRssMB} MB warm → ${result.endRssMB} MB at the end (growth ${result.growthMB} MB, bound ${result.boundMB} MB); ` +
    `peak ${peak} MB; second-half trend ${result.secondHalfTrendMBPerMin} MB/min → ${pass ? 'PASS' : 'FAIL'}`,
);
log(JSON.stringify(counts));
process.exit(pass ? 0 : 1);
