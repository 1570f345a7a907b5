/**
 * Fan-out cost: the relay's CPU per listener-second, and the most listeners it feeds in real time, against a
 * bare broadcast server on the same runtime writing the same bytes to the same sockets. Relay, baseline and
 * listeners each run in their own process; CPU is what the server process itself used in the window.
 */
import { type AudioFormat, bytesPerSecond } from '../../../shared/audio-format.ts';
import { type BenchChild, type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep } from '../clock.ts';
import type { Usage } from '../control.ts';
import type { BenchContext } from '../context.ts';
import { row, type Row, verdict } from '../report.ts';
import { speak } from '../speak-client.ts';
import type { AudioSource } from '../sources.ts';

export interface FanOutPlan {
  /** Listener counts to try, ascending; the ramp stops at the first that is not fed in real time. */
  steps: number[];
  /** Pause after listeners join, before the window opens. */
  settleMs: number;
  windowMs: number;
  /** After a failure, try the midpoint between the last pass and the failure once. */
  refine: boolean;
}

/** A listener is fed in real time when every one received at least this share of the window's audio. */
const REALTIME_FLOOR = 0.95;

export interface StepResult {
  listeners: number;
  /** CPU the server used per wall second (1 = one core). */
  cpuShare: number;
  /** Microseconds of server CPU per listener-second of audio delivered. */
  cpuUsPerListenerSecond: number;
  realtimeMin: number;
  realtimeP50: number;
  closed: number;
  ok: boolean;
  swarmCpuShare: number;
  meanFrameBytes: number;
  framesPerSecond: number;
  /** Some listeners could not connect at all. */
  connectFailed?: boolean;
}

/** What one measurement window reports, before it is judged. */
export type WindowFigures = Omit<StepResult, 'listeners' | 'ok'>;

export interface ServerRamp {
  server: string;
  idleCpuShare: number;
  steps: StepResult[];
  maxRealtime: number;
}

export interface Swarm {
  child: BenchChild;
  connect(url: string, path: string, count: number, key?: string): Promise<void>;
  /** Opens a window, waits, and reports it (server usage must be read around it by the caller). */
  measure(format: AudioFormat, windowMs: number, server: BenchChild): Promise<{ step: WindowFigures; raw: Record<string, unknown> }>;
  closeSome(count: number): Promise<void>;
  closeAll(): Promise<void>;
}

export async function startSwarm(): Promise<Swarm> {
  const child = await spawnChild('test/bench/listener-swarm.ts');
  return {
    child,
    async connect(url, path, count, key) {
      if (count <= 0) return;
      const result = await child.call<{ opened: number; failed: number; firstError: string | null }>(
        'connect',
        { url, path, count, headers: key ? { authorization: `Bearer ${key}` } : {}, concurrency: 64 },
        180_000,
      );
      if (result.failed > 0) throw new Error(`${result.failed} of ${count} listeners failed to connect: ${result.firstError}`);
    },
    async measure(format, windowMs, server) {
      await child.call('mark');
      const before: Usage = await server.usage();
      const started = performance.now();
      await sleep(windowMs);
      const after: Usage = await server.usage();
      const elapsed = performance.now() - started;
      const raw = await child.call<{
        listeners: number;
        closed: number;
        realtime: { min: number; p50: number };
        swarmCpuShare: number;
        meanFrameBytes: number;
        framesPerListenerSecond: number;
      }>('measure', { bytesPerSecond: bytesPerSecond(format) });
      const cpuUs = after.cpuUs - before.cpuUs;
      const listenerSeconds = (raw.listeners * elapsed) / 1000;
      return {
        raw,
        step: {
          cpuShare: cpuUs / 1000 / elapsed,
          cpuUsPerListenerSecond: listenerSeconds > 0 ? cpuUs / listenerSeconds : Number.NaN,
          realtimeMin: raw.realtime.min,
          realtimeP50: raw.realtime.p50,
          closed: raw.closed,
          swarmCpuShare: raw.swarmCpuShare,
          meanFrameBytes: raw.meanFrameBytes,
          framesPerSecond: raw.framesPerListenerSecond,
        },
      };
    },
    async closeSome(count) {
      await child.call('closeSome', { count });
    },
    async closeAll() {
      await child.call('closeAll');
    },
  };
}

/** Ramps listeners up on one server until they are no longer fed in real time. */
async function ramp(
  ctx: BenchContext,
  server: string,
  serverChild: BenchChild,
  swarm: Swarm,
  connect: (count: number) => Promise<void>,
  format: AudioFormat,
  plan: FanOutPlan,
  alreadyConnected = 0,
  audioEnds = Number.POSITIVE_INFINITY,
): Promise<ServerRamp> {
  const idle = await swarm.measure(format, Math.min(plan.windowMs, 1000), serverChild);
  const steps: StepResult[] = [];
  let connected = alreadyConnected;
  const tryCount = async (listeners: number) => {
    try {
      if (listeners > connected) await connect(listeners - connected);
      else if (listeners < connected) await swarm.closeSome(connected - listeners);
    } catch (error) {
      // Listeners that cannot even connect are not being fed: this count is past what the setup sustains.
      ctx.log(`  ${server}: ${listeners} listeners: ${error instanceof Error ? error.message : String(error)}`);
      const failed: StepResult = {
        listeners,
        cpuShare: Number.NaN,
        cpuUsPerListenerSecond: Number.NaN,
        realtimeMin: 0,
        realtimeP50: 0,
        closed: 0,
        ok: false,
        swarmCpuShare: Number.NaN,
        meanFrameBytes: Number.NaN,
        framesPerSecond: Number.NaN,
        connectFailed: true,
      };
      steps.push(failed);
      connected = Number.NaN;
      return failed;
    }
    connected = listeners;
    await sleep(plan.settleMs);
    const { step } = await swarm.measure(format, plan.windowMs, serverChild);
    const result: StepResult = { listeners, ...step, ok: step.closed === 0 && step.realtimeMin >= REALTIME_FLOOR };
    ctx.log(
      `  ${server}: ${listeners} listeners, cpu ${(step.cpuShare * 100).toFixed(0)}%, ${step.cpuUsPerListenerSecond.toFixed(1)} µs/listener-s, ` +
        `realtime min ${step.realtimeMin.toFixed(3)}${step.closed ? `, ${step.closed} closed` : ''}, swarm cpu ${(step.swarmCpuShare * 100).toFixed(0)}%`,
    );
    steps.push(result);
    return result;
  };
  let lastPass = 0;
  let firstFail = 0;
  // A window that could outlast the audio would read silence as failure.
  const audioLeft = () => audioEnds - performance.now() > plan.settleMs + plan.windowMs + 2000;
  for (const listeners of plan.steps) {
    if (ctx.outOfTime() || !audioLeft()) break;
    const result = await tryCount(listeners);
    if (!result.ok) {
      firstFail = listeners;
      break;
    }
    lastPass = listeners;
  }
  if (plan.refine && firstFail > 0 && Number.isFinite(connected) && !ctx.outOfTime() && audioLeft()) {
    const mid = Math.round((lastPass + firstFail) / 2 / 100) * 100;
    if (mid > lastPass && mid < firstFail && (await tryCount(mid)).ok) lastPass = mid;
  }
  await swarm.closeAll();
  return { server, idleCpuShare: idle.step.cpuShare, steps, maxRealtime: lastPass };
}

export interface FanOutResult {
  runtime: Runtime;
  source: string;
  format: AudioFormat;
  relay: ServerRamp;
  baseline: ServerRamp;
  frame: { payloadBytes: number; frameMs: number };
  /** The relay taking in one long utterance from the provider before the ramp: a per-stream cost. */
  ingest: { audioSeconds: number; cpuMs: number; wallMs: number };
  compareAt: number | null;
}

/** Runs the relay ramp, then the baseline ramp with the relay's observed frame size and rate. */
export async function measureFanOut(ctx: BenchContext, runtime: Runtime, source: AudioSource, plan: FanOutPlan): Promise<FanOutResult> {
  const format = source.format;
  const key = ctx.adminKey;
  const swarm = await startSwarm();
  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: key },
  });
  let relayRamp: ServerRamp;
  let frame = { payloadBytes: 0, frameMs: 0 };
  let ingest = { audioSeconds: Number.NaN, cpuMs: Number.NaN, wallMs: Number.NaN };
  let audioEnds = Number.POSITIVE_INFINITY;
  try {
    const stream = 'fan-out';
    const listenPath = `/v1/streams/${stream}/listen?encoding=${format.encoding}&sample_rate=${format.sampleRate}`;
    // Enough audio for the whole ramp, queued as a few utterances (the queue keeps them back to back).
    // One long utterance, all of it in the relay before the ramp starts: the windows then see fan-out alone,
    // not the relay ingesting the provider's faster-than-real-time burst (a per-stream cost, reported apart).
    const audioSeconds = ctx.mode === 'smoke' ? 10 : 110;
    // The first listener joins before the audio starts: a format channel opened in the middle of an
    // utterance gets none of it (the fan-out learns an utterance from its start event).
    await swarm.connect(relay.info.url, listenPath, 1, key);
    const before = await source.produced();
    const ingestCpu = await relay.usage();
    const spokenAt = performance.now();
    const answer = await speak({ url: relay.info.url, key }, stream, source.text(audioSeconds));
    if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
    const produced = await source.quiet(before);
    ingest = { audioSeconds: produced, cpuMs: ((await relay.usage()).cpuUs - ingestCpu.cpuUs) / 1000, wallMs: performance.now() - spokenAt };
    audioEnds = spokenAt + (Number.isFinite(produced) ? produced : audioSeconds) * 1000;
    const probe = await swarm.measure(format, Math.min(1000, plan.windowMs), relay);
    if (!(probe.step.framesPerSecond > 0)) throw new Error(`the relay sent no audio (${JSON.stringify(probe.raw)})\n${relay.stderr()}`);
    frame = { payloadBytes: Math.round(probe.step.meanFrameBytes) - 12, frameMs: 1000 / probe.step.framesPerSecond };
    relayRamp = await ramp(ctx, `relay (${runtime})`, relay, swarm, (n) => swarm.connect(relay.info.url, listenPath, n, key), format, plan, 1, audioEnds);
  } finally {
    await relay.stop();
  }

  const baseline = await spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime });
  let baselineRamp: ServerRamp;
  try {
    await baseline.call('play', { payloadBytes: frame.payloadBytes, frameMs: frame.frameMs, leadMs: ctx.playoutLeadMs });
    baselineRamp = await ramp(ctx, `${runtime === 'bun' ? 'Bun publish' : 'ws'} broadcast`, baseline, swarm, (n) => swarm.connect(baseline.info.url, '/', n), format, plan);
  } finally {
    await baseline.stop();
    await swarm.child.stop();
  }
  const bothOk = relayRamp.steps.filter((s) => s.ok && baselineRamp.steps.some((b) => b.ok && b.listeners === s.listeners));
  return {
    runtime,
    source: source.name,
    format,
    relay: relayRamp,
    baseline: baselineRamp,
    frame,
    ingest,
    compareAt: bothOk.length ? bothOk[bothOk.length - 1]!.listeners : null,
  };
}

export function fanOutRows(result: FanOutResult): Row[] {
  // Where both kept up at the same count; failing that, the first count both were measured at.
  const at = result.compareAt ?? result.relay.steps.find((s) => result.baseline.steps.some((b) => b.listeners === s.listeners && Number.isFinite(b.cpuShare)))?.listeners ?? null;
  const relayStep = result.relay.steps.find((s) => s.listeners === at);
  const baseStep = result.baseline.steps.find((s) => s.listeners === at);
  const rt = result.runtime;
  const cpuRatio = relayStep && baseStep ? relayStep.cpuUsPerListenerSecond / baseStep.cpuUsPerListenerSecond : null;
  const perCore = relayStep ? 1e6 / relayStep.cpuUsPerListenerSecond : null;
  const rows: Row[] = [
    row({
      item: 2,
      figure: `CPU per listener-second, ${at ?? '?'} listeners (${rt})`,
      unit: 'µs',
      relay: relayStep?.cpuUsPerListenerSecond ?? null,
      baseline: baseStep?.cpuUsPerListenerSecond ?? null,
      baselineName: rt === 'bun' ? 'Bun publish' : 'ws broadcast',
      target: '≤ 1.2× baseline',
      verdict: verdict(cpuRatio === null ? null : cpuRatio <= 1.2),
    }),
    row({
      item: 2,
      figure: `real-time listeners, one process (${rt})`,
      unit: 'listeners',
      relay: result.relay.maxRealtime,
      baseline: result.baseline.maxRealtime,
      baselineName: rt === 'bun' ? 'Bun publish' : 'ws broadcast',
      target: '≥ 5,000 per core',
      verdict: verdict(result.relay.maxRealtime >= 5000),
    }),
    row({
      item: 2,
      figure: `listeners per core from CPU cost (${rt})`,
      unit: 'listeners',
      relay: perCore,
      baseline: baseStep ? 1e6 / baseStep.cpuUsPerListenerSecond : null,
      baselineName: rt === 'bun' ? 'Bun publish' : 'ws broadcast',
      target: '≥ 5,000',
      verdict: verdict(perCore === null ? null : perCore >= 5000),
    }),
  ];
  if (Number.isFinite(result.ingest.audioSeconds) && result.ingest.audioSeconds > 0) {
    rows.push(
      row({
        item: 2,
        figure: `provider audio taken in, per stream (${rt}; ${result.ingest.audioSeconds.toFixed(0)} s of audio in ${(result.ingest.wallMs / 1000).toFixed(1)} s)`,
        unit: 'ms CPU per audio s',
        relay: result.ingest.cpuMs / result.ingest.audioSeconds,
        baseline: null,
        baselineName: '',
        note: 'a per-stream cost, whatever the listener count: Cartesia JSON + base64 decoding, validation, playout queueing',
      }),
    );
  }
  return rows;
}
