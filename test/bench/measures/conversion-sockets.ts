/**
 * Conversion over real sockets, interleaved: the relay with `listeners` real listeners of each format (a stream
 * per format) against a bare broadcast server writing the same bytes at the same pace to as many sockets of its
 * own. Both servers and their swarms are up side by side for the whole measure; every round takes a window of
 * each format on both (relay and bare alternating which goes first, the formats in a rotating order), so each
 * round gives a relay/bare ratio per format, and each converted format's ratio over the native one's in the
 * same round: 1× means a converted listener costs the relay what a native one does, beyond its bytes.
 */
import { type AudioFormat, bytesPerSecond, formatKey } from '../../../shared/audio-format.ts';
import { AUDIO_HEADER_BYTES } from '../../../shared/protocol.ts';
import { type BenchChild, type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { compare, type Comparison, type RoundPair } from '../interleave.ts';
import { speak } from '../speak-client.ts';
import type { AudioSource } from '../sources.ts';
import { startSwarm, type Swarm, type WindowFigures } from './fan-out.ts';
import os from 'node:os';
import { join } from 'node:path';

export interface ConversionSocketsPlan {
  listeners: number;
  rounds: number;
  settleMs: number;
  windowMs: number;
}

export interface FormatRounds {
  format: string;
  /** Relay vs bare broadcast, CPU per listener-second, per round. */
  cpu: Comparison;
  relayWindows: WindowFigures[];
  bareWindows: WindowFigures[];
}

export interface ConversionSocketsResult {
  listeners: number;
  /** The relay's native frame (learned from it), the pace and duration of every format's frames. */
  frameMs: number;
  formats: FormatRounds[];
  /** Per converted format: its relay/bare ratio over the native format's, round by round. */
  againstNative: Array<{ format: string; figure: Comparison }>;
}

/** The bound: a converted path within 1.1× of the native one (each against its bare broadcast). */
export const CONVERSION_LIMIT = 1.1;
const QUIET_WAIT_MS = 3000;

interface Side {
  child: BenchChild;
  swarm: Swarm;
  /** The listeners' path for a format (the swarm's window covers that path's listeners only). */
  path(format: AudioFormat): string;
  connect(format: AudioFormat, count: number): Promise<void>;
  start(format: AudioFormat, seconds: number): Promise<void>;
  stop(format: AudioFormat): Promise<void>;
}

async function relaySide(ctx: BenchContext, runtime: Runtime, source: AudioSource): Promise<Side> {
  const port = await freePort();
  const [swarm, relay] = await Promise.all([
    startSwarm(),
    spawnChild<{ url: string }>('test/bench/relay-child.ts', { runtime, env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey } }),
  ]);
  const target = { url: relay.info.url, key: ctx.adminKey };
  const stream = (format: AudioFormat) => `conversion-${format.encoding}-${format.sampleRate}`;
  const path = (format: AudioFormat) => `/v1/streams/${stream(format)}/listen?encoding=${format.encoding}&sample_rate=${format.sampleRate}`;
  return {
    child: relay,
    swarm,
    path,
    connect: (format, count) => swarm.connect(relay.info.url, path(format), count, ctx.adminKey),
    async start(format, seconds) {
      const before = await source.produced();
      const answer = await speak(target, stream(format), source.text(seconds));
      if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
      await source.quiet(before, QUIET_WAIT_MS);
    },
    async stop(format) {
      const response = await fetch(new URL(`/v1/streams/${stream(format)}/cancel?all=true`, target.url), { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` } });
      await response.arrayBuffer();
    },
  };
}

/** Plays frames of the relay's native duration in each format's size; `frame.frameMs` is filled in once the relay told it. */
async function bareSide(ctx: BenchContext, runtime: Runtime, frame: { frameMs: number }): Promise<Side> {
  const [swarm, bare] = await Promise.all([startSwarm(), spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime })]);
  const path = (format: AudioFormat) => `/${formatKey(format)}`;
  return {
    child: bare,
    swarm,
    path,
    connect: (format, count) => swarm.connect(bare.info.url, path(format), count),
    async start(format) {
      const payloadBytes = Math.round((frame.frameMs / 1000) * bytesPerSecond(format));
      await bare.call('play', { payloadBytes, frameMs: frame.frameMs, leadMs: ctx.playoutLeadMs, path: path(format) });
    },
    stop: async () => void (await bare.call('stop')),
  };
}

/** `profileFile`: a CPU profile of the child over the window (Node only), for finding where a format's time goes. */
async function window(side: Side, format: AudioFormat, plan: ConversionSocketsPlan, ctx: BenchContext, profileFile?: string): Promise<WindowFigures> {
  await side.start(format, (plan.settleMs + plan.windowMs + ctx.playoutLeadMs) / 1000 + 5);
  await sleep(plan.settleMs);
  const profiled = profileFile ? side.child.call('profile', { ms: plan.windowMs, file: profileFile }) : null;
  const { step } = await side.swarm.measure(format, plan.windowMs, side.child, side.path(format));
  await profiled;
  await side.stop(format);
  if (!(step.framesPerSecond > 0)) throw new Error(`no ${formatKey(format)} audio reached the listeners\n${side.child.stderr().slice(-2000)}`);
  return step;
}

/** The relay's native frame duration: one listener of the native format, one short window. */
async function learnFrame(relay: Side, format: AudioFormat, ctx: BenchContext): Promise<number> {
  await relay.start(format, 8);
  await sleep(500);
  const { step } = await relay.swarm.measure(format, 1000, relay.child, relay.path(format));
  await relay.stop(format);
  if (!(step.framesPerSecond > 0)) throw new Error(`the relay sent no audio\n${relay.child.stderr().slice(-2000)}`);
  ctx.log(`  conversion: the relay's native frame is ${Math.round(step.meanFrameBytes)} bytes`);
  return ((step.meanFrameBytes - AUDIO_HEADER_BYTES) / bytesPerSecond(format)) * 1000;
}

export async function measureConversionSockets(ctx: BenchContext, runtime: Runtime, source: AudioSource, converted: AudioFormat[], plan: ConversionSocketsPlan): Promise<ConversionSocketsResult> {
  const formats = [source.format, ...converted];
  const frame = { frameMs: 0 };
  const sides = await Promise.allSettled([relaySide(ctx, runtime, source), bareSide(ctx, runtime, frame)]);
  const started = sides.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (started.length < 2) {
    for (const side of started) await Promise.all([side.child.stop(), side.swarm.child.stop()]);
    throw (sides.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
  }
  const [relay, bare] = started as [Side, Side];
  try {
    for (const format of formats) await Promise.all([relay.connect(format, plan.listeners), bare.connect(format, plan.listeners)]);
    frame.frameMs = await learnFrame(relay, source.format, ctx);
    const windows = formats.map(() => ({ relay: [] as WindowFigures[], bare: [] as WindowFigures[], pairs: [] as RoundPair[] }));
    for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
      for (let k = 0; k < formats.length; k++) {
        const index = (k + round) % formats.length;
        const format = formats[index]!;
        const taken = windows[index]!;
        const order = (round + k) % 2 === 0 ? [relay, bare] : [bare, relay];
        for (const side of order) {
          const profileFile = side === relay && round === 0 && ctx.profileDir && runtime === 'node' ? join(ctx.profileDir, `relay-conversion-${formatKey(format)}.cpuprofile`) : undefined;
          (side === relay ? taken.relay : taken.bare).push(await window(side, format, plan, ctx, profileFile));
        }
        taken.pairs.push({ relay: taken.relay.at(-1)!.cpuUsPerListenerSecond, baseline: taken.bare.at(-1)!.cpuUsPerListenerSecond, load: os.loadavg()[0]! });
      }
    }
    const results: FormatRounds[] = formats.map((format, i) => ({ format: formatKey(format), cpu: compare(windows[i]!.pairs, 'ratio', null), relayWindows: windows[i]!.relay, bareWindows: windows[i]!.bare }));
    const native = windows[0]!.pairs;
    const againstNative = converted.map((format, i) => {
      const pairs = windows[i + 1]!.pairs.map((p, r) => ({ relay: p.relay / p.baseline, baseline: native[r]!.relay / native[r]!.baseline, load: p.load }));
      return { format: formatKey(format), figure: compare(pairs, 'ratio', CONVERSION_LIMIT) };
    });
    for (const r of results) {
      ctx.log(`  conversion ${r.format}, ${plan.listeners} listeners: relay ${r.cpu.relay.median.toFixed(1)} µs/listener-s, bare ${r.cpu.baseline.median.toFixed(1)}; ratio per round ${r.cpu.rounds.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}; realtime min relay ${Math.min(...r.relayWindows.map((w) => w.realtimeMin)).toFixed(2)}`);
    }
    return { listeners: plan.listeners, frameMs: frame.frameMs, formats: results, againstNative };
  } finally {
    for (const side of [relay, bare]) await Promise.all([side.child.stop(), side.swarm.child.stop()]);
  }
}
