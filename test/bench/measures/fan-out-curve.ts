/**
 * Fan-out growth curve: CPU per listener-second at each listener count, the relay against a bare broadcast
 * on the same runtime (`ws` clients loop on Node, `server.publish` on Bun) writing the relay's own frame size
 * at its pace. Both servers run side by side for the whole measure, each with its own listener swarm holding
 * the same number of sockets, and the rounds alternate which of them plays (A B, B A, …): the same process
 * layout, the same bytes, and whatever load the machine has falls on both alike.
 */
import { join } from 'node:path';
import { AUDIO_HEADER_BYTES } from '../../../shared/protocol.ts';
import { bytesPerSecond, samplesIn } from '../../../shared/audio-format.ts';
import { type BenchChild, type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { type Comparison, compare, interleave } from '../interleave.ts';
import type { Curve } from '../plot.ts';
import { comparedRow, type Row } from '../report.ts';
import { speak } from '../speak-client.ts';
import type { AudioSource } from '../sources.ts';
import { startSwarm, type Swarm, type WindowFigures } from './fan-out.ts';

export interface FanOutCurvePlan {
  steps: number[];
  rounds: number;
  settleMs: number;
  windowMs: number;
  /**
   * Listener-seconds a window covers at least, lengthening the windows of the small steps: 100 listeners use a few
   * % of a core, and a window of a few tens of ms of CPU reads a stray collection or compilation as fan-out.
   */
  minListenerSeconds: number;
  /**
   * More rounds for the steps up to `upTo` listeners: there a window holds a few tens of ms of CPU a second, so one
   * stray collection moves a round by tens of %, and only more rounds give a median and IQR that hold (they are cheap).
   */
  smallSteps?: { upTo: number; rounds: number };
}

export interface CurveStep {
  listeners: number;
  cpu: Comparison;
  relayWindows: WindowFigures[];
  baselineWindows: WindowFigures[];
}

export interface FanOutCurveResult {
  runtime: Runtime;
  source: string;
  frame: { payloadBytes: number; frameMs: number };
  steps: CurveStep[];
}

/** The bound: the relay within 1.1× of its bare broadcast. */
export const FAN_OUT_LIMIT = 1.1;
const QUIET_WAIT_MS = 3000;
/** The relay's heartbeat interval (its default), set on the relay and mirrored by the baseline: the same messages on both. */
const HEARTBEAT_MS = 15_000;
/** --profile: how long each server is profiled, at a step's first round (a few % of a core at 100 listeners: seconds for enough samples). */
const PROFILE_MS = 10_000;

interface Side {
  child: BenchChild;
  swarm: Swarm;
  connect(count: number): Promise<void>;
  start(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * How long the relay's last start took, from its speak request to its provider going quiet. Both servers release a
 * lead of audio at once, which the swarm takes in over the next second or so (the servers write what the sockets did
 * not take as the swarm reads); the bare waits as long after its own start, so both windows open as long after it.
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
  const stream = 'fan-out-curve';
  const path = `/v1/streams/${stream}/listen?encoding=${source.format.encoding}&sample_rate=${source.format.sampleRate}`;
  return {
    child: relay,
    swarm,
    connect: (n) => swarm.connect(relay.info.url, path, n, ctx.adminKey),
    async start(seconds) {
      const before = await source.produced();
      const startedAt = performance.now();
      const answer = await speak(target, stream, source.text(seconds));
      if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
      // The window should see fan-out, not the relay taking in the provider's burst.
      await source.quiet(before, QUIET_WAIT_MS);
      leadIn.ms = performance.now() - startedAt;
    },
    async stop() {
      const response = await fetch(new URL(`/v1/streams/${stream}/cancel?all=true`, target.url), { method: 'POST', headers: { authorization: `Bearer ${ctx.adminKey}` } });
      await response.arrayBuffer();
    },
  };
}

/** The frame the baseline sends is learned from the relay once both are up: `frame` is filled in then. */
async function baselineSide(ctx: BenchContext, runtime: Runtime, source: AudioSource, frame: FanOutCurveResult['frame'], leadIn: LeadIn): Promise<Side> {
  const [swarm, bare] = await Promise.all([startSwarm(), spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime })]);
  return {
    child: bare,
    swarm,
    connect: (n) => swarm.connect(bare.info.url, '/', n),
    start: async () => {
      const samplesPerFrame = samplesIn(source.format, frame.payloadBytes);
      await bare.call('play', { payloadBytes: frame.payloadBytes, samplesPerFrame, frameMs: frame.frameMs, leadMs: ctx.playoutLeadMs, heartbeatMs: HEARTBEAT_MS });
      await sleep(leadIn.ms);
    },
    stop: async () => void (await bare.call('stop')),
  };
}

/** With `profileTo` (Node), a CPU profile of the server over PROFILE_MS of audio after the settle, before and apart from the window it measures. */
async function window(side: Side, source: AudioSource, plan: FanOutCurvePlan, windowMs: number, ctx: BenchContext, profileTo?: string): Promise<WindowFigures> {
  const profileMs = profileTo ? PROFILE_MS : 0;
  await side.start((plan.settleMs + profileMs + windowMs + ctx.playoutLeadMs) / 1000 + 5);
  await sleep(plan.settleMs);
  if (profileTo) await side.child.call('profile', { ms: profileMs, intervalUs: 100, file: profileTo });
  const { step } = await side.swarm.measure(source.format, windowMs, side.child);
  await side.stop();
  return step;
}

export async function measureFanOutCurve(ctx: BenchContext, runtime: Runtime, source: AudioSource, plan: FanOutCurvePlan): Promise<FanOutCurveResult> {
  const frame = { payloadBytes: 0, frameMs: 0 };
  const leadIn: LeadIn = { ms: 0 };
  // Both servers and their swarms start together (four processes); a failed start stops the others.
  const sides = await Promise.allSettled([relaySide(ctx, runtime, source, leadIn), baselineSide(ctx, runtime, source, frame, leadIn)]);
  const started = sides.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (started.length < 2) {
    for (const side of started) await Promise.all([side.child.stop(), side.swarm.child.stop()]);
    throw (sides.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason;
  }
  const [relay, baseline] = started as [Side, Side];
  try {
    // One listener first, there before any audio: it learns the relay's frame size for the baseline.
    await relay.connect(1);
    await relay.start(8);
    await sleep(plan.settleMs);
    const probe = await relay.swarm.measure(source.format, Math.min(1000, plan.windowMs), relay.child);
    await relay.stop();
    if (!(probe.step.framesPerSecond > 0)) throw new Error(`the relay sent no audio (${JSON.stringify(probe.raw)})\n${relay.child.stderr()}`);
    frame.payloadBytes = Math.round(probe.step.meanFrameBytes) - AUDIO_HEADER_BYTES;
    frame.frameMs = (frame.payloadBytes / bytesPerSecond(source.format)) * 1000;
    const steps: CurveStep[] = [];
    let connected = { relay: 1, baseline: 0 };
    for (const listeners of plan.steps) {
      if (ctx.outOfTime()) break;
      await relay.connect(listeners - connected.relay);
      await baseline.connect(listeners - connected.baseline);
      const windowMs = Math.max(plan.windowMs, (plan.minListenerSeconds * 1000) / listeners);
      if (steps.length === 0) {
        // One window each, not counted, before the first rounds: each server compiles its hot path and collects the
        // handshakes' garbage there, not in the first round (the relay, with far more code, paid more for it there).
        await window(relay, source, plan, plan.windowMs, ctx);
        await window(baseline, source, plan, plan.windowMs, ctx);
      }
      connected = { relay: listeners, baseline: listeners };
      const relayWindows: WindowFigures[] = [];
      const baselineWindows: WindowFigures[] = [];
      const profileTo = (server: string, windows: WindowFigures[]) =>
        ctx.profileDir && runtime === 'node' && windows.length === 0 ? join(ctx.profileDir, `fanout-${server}-${listeners}.cpuprofile`) : undefined;
      const rounds = plan.smallSteps && listeners <= plan.smallSteps.upTo ? plan.smallSteps.rounds : plan.rounds;
      const pairs = await interleave(
        rounds,
        async () => {
          const w = await window(relay, source, plan, windowMs, ctx, profileTo('relay', relayWindows));
          relayWindows.push(w);
          return w.cpuUsPerListenerSecond;
        },
        async () => {
          const w = await window(baseline, source, plan, windowMs, ctx, profileTo('bare', baselineWindows));
          baselineWindows.push(w);
          return w.cpuUsPerListenerSecond;
        },
      );
      const cpu = compare(pairs, 'ratio', FAN_OUT_LIMIT);
      ctx.log(
        `  fan-out (${runtime}) ${listeners} listeners: relay ${cpu.relay.median.toFixed(1)} µs/listener-s, baseline ${cpu.baseline.median.toFixed(1)}; ` +
          `ratio per round ${pairs.map((p) => (p.relay / p.baseline).toFixed(2)).join(' ')}; realtime min relay ${Math.min(...relayWindows.map((w) => w.realtimeMin)).toFixed(2)}; ` +
          `control messages per listener-s relay ${meanOf(relayWindows, 'textFramesPerSecond')}, baseline ${meanOf(baselineWindows, 'textFramesPerSecond')}`,
      );
      steps.push({ listeners, cpu, relayWindows, baselineWindows });
    }
    return { runtime, source: source.name, frame, steps };
  } finally {
    for (const side of [relay, baseline]) await Promise.all([side.child.stop(), side.swarm.child.stop()]);
  }
}

function meanOf(windows: WindowFigures[], key: 'textFramesPerSecond'): string {
  return (windows.reduce((total, w) => total + w[key], 0) / Math.max(1, windows.length)).toFixed(3);
}

export function fanOutCurveRows(result: FanOutCurveResult): Row[] {
  const baselineName = result.runtime === 'bun' ? 'Bun publish' : 'ws broadcast';
  return result.steps.map((step) => {
    const slowest = Math.min(...step.relayWindows.map((w) => w.realtimeMin));
    return comparedRow(
      {
        item: 2,
        figure: `CPU per listener-second, ${step.listeners.toLocaleString('en-US')} listeners (${result.runtime})`,
        unit: 'µs',
        baselineName,
        target: `≤ ${FAN_OUT_LIMIT}× baseline`,
        ...(slowest < 0.95 ? { note: `not every listener fed in real time (slowest ${slowest.toFixed(2)}× real time)` } : {}),
      },
      step.cpu,
    );
  });
}

export function fanOutCurve(result: FanOutCurveResult): Curve {
  const side = (pick: 'relay' | 'baseline') => result.steps.map((s) => ({ x: s.listeners, y: s.cpu[pick].median, lo: s.cpu[pick].min, hi: s.cpu[pick].max }));
  return {
    id: `fanout-${result.runtime}`,
    title: `CPU per listener-second, relay vs ${result.runtime === 'bun' ? 'Bun server.publish' : 'bare ws broadcast'} (${result.runtime})`,
    xLabel: 'listeners',
    yLabel: 'µs CPU per listener-second',
    series: [
      { name: 'relay', points: side('relay') },
      { name: result.runtime === 'bun' ? 'server.publish' : 'ws broadcast', points: side('baseline') },
    ],
  };
}
