/**
 * Conversion over real sockets, interleaved: the relay with `listeners` real listeners of each format (a stream
 * per format) against a bare broadcast server writing the same bytes at the same pace to as many sockets of its
 * own. Both servers and their swarms are up side by side for the whole measure. A round takes a relay and a bare
 * window of each format, the native format's between the two converted ones (c₁ n c₂), every format's pair in the
 * same side order: each converted path's relay/bare over the native path's then rests on four windows back to back
 * whose signs in the ratio run A B B A (relay c, bare c, relay n, bare n), so a load drifting steadily through
 * them cancels out. 1× means a converted listener costs the relay what a native one does, beyond its bytes.
 */
import { type AudioFormat, bytesPerSecond, formatKey, samplesIn } from '../../../shared/audio-format.ts';
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
  /**
   * Listener-seconds a window covers at least, lengthening it at small listener counts: 100 listeners hold ~35 ms of
   * CPU a second per process, and a window of a few tens of ms reads one stray collection as tens of %.
   */
  minListenerSeconds: number;
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
  windowMs: number;
  formats: FormatRounds[];
  /**
   * Per converted format: its relay/bare ratio over the native format's in the same round, round by round, each
   * server's helper-thread CPU charged evenly over its windows of the format (`helpersChargedEvenly`).
   */
  againstNative: Array<{ format: string; figure: Comparison }>;
  /** The same with each window's CPU as read. */
  againstNativeAsRead: Array<{ format: string; figure: Comparison }>;
}

/** The bound: a converted path within 1.1× of the native one (each against its bare broadcast). */
export const CONVERSION_LIMIT = 1.1;
const QUIET_WAIT_MS = 3000;
/** The relay's heartbeat interval (its default), set on the relay and mirrored by the bare: the same messages on both. */
const HEARTBEAT_MS = 15_000;
/** --profile: how long the relay is profiled per format after its warm-up (a few % of a core: seconds for enough samples). */
const PROFILE_MS = 10_000;

interface Side {
  child: BenchChild;
  swarm: Swarm;
  /** The listeners' path for a format (the swarm's window covers that path's listeners only). */
  path(format: AudioFormat): string;
  connect(format: AudioFormat, count: number): Promise<void>;
  start(format: AudioFormat, seconds: number): Promise<void>;
  stop(format: AudioFormat): Promise<void>;
}

/**
 * How long the relay's last start took, from its speak request to its provider going quiet. Both servers release a
 * lead of audio at once, which the swarm takes in over the next second or so; the bare waits as long after its own
 * start, so both windows open as long after it.
 */
interface LeadIn {
  ms: number;
}

async function relaySide(ctx: BenchContext, runtime: Runtime, source: AudioSource, leadIn: LeadIn): Promise<Side> {
  const port = await freePort();
  const [swarm, relay] = await Promise.all([
    startSwarm(),
    spawnChild<{ url: string }>('test/bench/relay-child.ts', {
      runtime,
      env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey, RELAY_HEARTBEAT_MS: String(HEARTBEAT_MS) },
    }),
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
      const startedAt = performance.now();
      const answer = await speak(target, stream(format), source.text(seconds));
      if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
      // The window should see fan-out, not the relay taking in the provider's burst.
      await source.quiet(before, QUIET_WAIT_MS);
      leadIn.ms = performance.now() - startedAt;
    },
    async stop(format) {
      const response = await fetch(new URL(`/v1/streams/${stream(format)}/cancel?all=true`, target.url), { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` } });
      await response.arrayBuffer();
    },
  };
}

/** Plays frames of the relay's native duration in each format's size; `frame.frameMs` is filled in once the relay told it. */
async function bareSide(ctx: BenchContext, runtime: Runtime, frame: { frameMs: number }, leadIn: LeadIn): Promise<Side> {
  const [swarm, bare] = await Promise.all([startSwarm(), spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime })]);
  const path = (format: AudioFormat) => `/${formatKey(format)}`;
  return {
    child: bare,
    swarm,
    path,
    connect: (format, count) => swarm.connect(bare.info.url, path(format), count),
    async start(format) {
      const payloadBytes = Math.round((frame.frameMs / 1000) * bytesPerSecond(format));
      const samplesPerFrame = samplesIn(format, payloadBytes);
      await bare.call('play', { payloadBytes, samplesPerFrame, frameMs: frame.frameMs, leadMs: ctx.playoutLeadMs, heartbeatMs: HEARTBEAT_MS, path: path(format) });
      await sleep(leadIn.ms);
    },
    stop: async () => void (await bare.call('stop')),
  };
}

/** With `profileTo` (Node), a CPU profile of the server over PROFILE_MS of audio after the settle, before and apart from the window. */
async function window(side: Side, format: AudioFormat, windowMs: number, plan: ConversionSocketsPlan, ctx: BenchContext, profileTo?: string): Promise<WindowFigures> {
  const profileMs = profileTo ? PROFILE_MS : 0;
  await side.start(format, (plan.settleMs + profileMs + windowMs + ctx.playoutLeadMs) / 1000 + 5);
  await sleep(plan.settleMs);
  if (profileTo) await side.child.call('profile', { ms: profileMs, intervalUs: 100, file: profileTo });
  const { step } = await side.swarm.measure(format, windowMs, side.child, side.path(format));
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

/**
 * Each window's CPU per listener-second with the server's helper threads' CPU (the runtime's concurrent marking and
 * sweeping, its compiler: work whose timing is the runtime's, not the window's) taken out where it ran and charged
 * evenly per listener-second; the main thread's stays as read, the windows' total is unchanged. Windows without a
 * main-thread reading are left as read.
 */
export function helpersChargedEvenly(windows: readonly Pick<WindowFigures, 'cpuUsPerListenerSecond' | 'mainThreadUs' | 'listenerSeconds'>[]): number[] {
  const observed = windows.every((w) => Number.isFinite(w.mainThreadUs) && (w.listenerSeconds ?? 0) > 0);
  if (!observed) return windows.map((w) => w.cpuUsPerListenerSecond);
  const helperUs = windows.map((w) => w.cpuUsPerListenerSecond * w.listenerSeconds! - w.mainThreadUs!);
  const perListenerSecond = helperUs.reduce((n, us) => n + us, 0) / windows.reduce((n, w) => n + w.listenerSeconds!, 0);
  return windows.map((w, i) => w.cpuUsPerListenerSecond - helperUs[i]! / w.listenerSeconds! + perListenerSecond);
}

/**
 * A round's formats and sides: the native format between the converted ones, which of those comes first and which
 * side plays first alternating from round to round, so neither is always earlier.
 */
export function roundOrder<F, S>(round: number, native: F, converted: readonly F[], sides: readonly [S, S]): { formats: F[]; sides: S[] } {
  const [first, ...rest] = Math.floor(round / 2) % 2 === 0 ? converted : [...converted].reverse();
  return {
    formats: first === undefined ? [native] : [first, native, ...rest],
    sides: round % 2 === 0 ? [...sides] : [...sides].reverse(),
  };
}

export async function measureConversionSockets(ctx: BenchContext, runtime: Runtime, source: AudioSource, converted: AudioFormat[], plan: ConversionSocketsPlan): Promise<ConversionSocketsResult> {
  const formats = [source.format, ...converted];
  const frame = { frameMs: 0 };
  const leadIn: LeadIn = { ms: 0 };
  const sides = await Promise.allSettled([relaySide(ctx, runtime, source, leadIn), bareSide(ctx, runtime, frame, leadIn)]);
  const started = sides.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (started.length < 2) {
    for (const side of started) await Promise.all([side.child.stop(), side.swarm.child.stop()]);
    throw (sides.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
  }
  const [relay, bare] = started as [Side, Side];
  try {
    for (const format of formats) await Promise.all([relay.connect(format, plan.listeners), bare.connect(format, plan.listeners)]);
    frame.frameMs = await learnFrame(relay, source.format, ctx);
    // One window of each format on each server, not counted: each compiles its path (the relay's converters) and
    // collects the handshakes' garbage there, not in the first round.
    for (const format of formats) for (const side of [relay, bare]) await window(side, format, plan.windowMs, plan, ctx);
    const windowMs = Math.max(plan.windowMs, (plan.minListenerSeconds * 1000) / plan.listeners);
    if (ctx.profileDir && runtime === 'node') {
      for (const format of formats) await window(relay, format, windowMs, plan, ctx, join(ctx.profileDir, `relay-conversion-${formatKey(format)}.cpuprofile`));
    }
    const taken = new Map(formats.map((f) => [f, { relay: [] as WindowFigures[], bare: [] as WindowFigures[], loads: [] as number[] }]));
    const roundLoads: number[] = [];
    for (let round = 0; round < plan.rounds && !ctx.outOfTime(); round++) {
      const order = roundOrder(round, source.format, converted, [relay, bare]);
      for (const format of order.formats) {
        const windows = taken.get(format)!;
        const figures = new Map<Side, WindowFigures>();
        for (const side of order.sides) figures.set(side, await window(side, format, windowMs, plan, ctx));
        windows.relay.push(figures.get(relay)!);
        windows.bare.push(figures.get(bare)!);
        windows.loads.push(os.loadavg()[0]!);
      }
      roundLoads.push(os.loadavg()[0]!);
    }
    // Each server's helper threads charged evenly over its windows of a format: what they cost stays in, where the
    // runtime happened to run them does not.
    const pairsOf = (format: AudioFormat, even: boolean): RoundPair[] => {
      const windows = taken.get(format)!;
      const cpu = (side: WindowFigures[]) => (even ? helpersChargedEvenly(side) : side.map((w) => w.cpuUsPerListenerSecond));
      const [relayCpu, bareCpu] = [cpu(windows.relay), cpu(windows.bare)];
      return relayCpu.map((r, i) => ({ relay: r, baseline: bareCpu[i]!, load: windows.loads[i]! }));
    };
    const overNative = (format: AudioFormat, even: boolean): RoundPair[] => {
      const [path, native] = [pairsOf(format, even), pairsOf(source.format, even)];
      return path.map((p, i) => ({ relay: p.relay / p.baseline, baseline: native[i]!.relay / native[i]!.baseline, load: roundLoads[i]! }));
    };
    const againstNative = new Map(converted.map((f) => [f, overNative(f, true)]));
    const results: FormatRounds[] = formats.map((format) => {
      const windows = taken.get(format)!;
      return { format: formatKey(format), cpu: compare(pairsOf(format, true), 'ratio', null), relayWindows: windows.relay, bareWindows: windows.bare };
    });
    for (const r of results) {
      ctx.log(`  conversion ${r.format}, ${plan.listeners} listeners: relay ${r.cpu.relay.median.toFixed(1)} µs/listener-s, bare ${r.cpu.baseline.median.toFixed(1)}; ratio per round ${r.cpu.rounds.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}; realtime min relay ${Math.min(...r.relayWindows.map((w) => w.realtimeMin)).toFixed(2)}`);
    }
    const perRound = (pairs: RoundPair[]) => pairs.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ');
    for (const [format, pairs] of againstNative) {
      ctx.log(`  conversion ${formatKey(format)} over native per round ${perRound(pairs)}; as read ${perRound(overNative(format, false))}`);
    }
    return {
      listeners: plan.listeners,
      frameMs: frame.frameMs,
      windowMs,
      formats: results,
      againstNative: converted.map((format) => ({ format: formatKey(format), figure: compare(againstNative.get(format)!, 'ratio', CONVERSION_LIMIT) })),
      againstNativeAsRead: converted.map((format) => ({ format: formatKey(format), figure: compare(overNative(format, false), 'ratio', null) })),
    };
  } finally {
    for (const side of [relay, bare]) await Promise.all([side.child.stop(), side.swarm.child.stop()]);
  }
}
