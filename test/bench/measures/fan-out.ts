/**
 * Fan-out cost: the relay's CPU per listener-second, and the most listeners it feeds in real time, against a
 * bare broadcast server on the same runtime writing the same bytes to the same sockets. Relay, baseline and
 * listeners each run in their own process; CPU is what the server process itself used in the window.
 */
import { type AudioFormat, bytesPerSecond } from '../../../shared/audio-format.ts';
import { AUDIO_HEADER_BYTES } from '../../../shared/protocol.ts';
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

// Longest wait for the provider's burst to be taken in before a step's window: past it the relay is too
// busy to read its provider (it then takes audio in as it plays it), and the window will show it.
const QUIET_WAIT_MS = 3000;

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
  /** Audio frames each listener got per second, and control messages (JSON text frames). */
  framesPerSecond: number;
  textFramesPerSecond: number;
  /** Some listeners could not connect at all. */
  connectFailed?: boolean;
  /** Listener-seconds the window covered, and the server's main-thread CPU in it (µs; NaN where not observed). */
  listenerSeconds?: number;
  mainThreadUs?: number;
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
  /** Opens a window over every listener (or those opened on `path`), waits, and reports it with the server's CPU meanwhile. */
  measure(format: AudioFormat, windowMs: number, server: BenchChild, path?: string): Promise<{ step: WindowFigures; raw: Record<string, unknown> }>;
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
    async measure(format, windowMs, server, path) {
      await child.call('mark', path === undefined ? {} : { path });
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
        textFrames: number;
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
          textFramesPerSecond: listenerSeconds > 0 ? raw.textFrames / listenerSeconds : Number.NaN,
          listenerSeconds,
          mainThreadUs: after.mainThreadUs - before.mainThreadUs,
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

/**
 * How a ramp drives one server. Listeners join while the server is silent (a server streaming to thousands
 * of sockets accepts new ones slowly, and the handshakes are not what is measured); then audio starts and,
 * once it flows steadily, the window is taken.
 */
export interface RampDriver {
  server: string;
  child: BenchChild;
  connect(count: number): Promise<void>;
  /** Starts audio that lasts at least `seconds`, resolving once it flows steadily. */
  startAudio(seconds: number): Promise<void>;
  stopAudio(): Promise<void>;
}

/** Ramps listeners up on one server until they are no longer fed in real time. */
async function ramp(ctx: BenchContext, driver: RampDriver, swarm: Swarm, format: AudioFormat, plan: FanOutPlan, alreadyConnected: number): Promise<ServerRamp> {
  const { server } = driver;
  const steps: StepResult[] = [];
  let connected = alreadyConnected;
  // Audio for the settle and the window, plus the lead released at once and the time taking it in.
  const stepSeconds = (plan.settleMs + plan.windowMs + ctx.playoutLeadMs) / 1000 + 5;
  const tryCount = async (listeners: number) => {
    await driver.stopAudio();
    try {
      if (listeners > connected) await driver.connect(listeners - connected);
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
        textFramesPerSecond: Number.NaN,
        connectFailed: true,
      };
      steps.push(failed);
      connected = (await swarm.child.call<{ total: number }>('closeSome', { count: 0 })).total;
      return failed;
    }
    connected = listeners;
    await driver.startAudio(stepSeconds);
    await sleep(plan.settleMs);
    const { step } = await swarm.measure(format, plan.windowMs, driver.child);
    const result: StepResult = { listeners, ...step, ok: step.closed === 0 && step.realtimeMin >= REALTIME_FLOOR };
    if (!(step.framesPerSecond > 0)) {
      const said = driver.child.stderr().split('\n').filter((line) => !line.includes('"msg":"request"'));
      ctx.log(`  ${server}: no audio at all in the window; the server said:\n${said.slice(-20).join('\n')}`);
    }
    ctx.log(
      `  ${server}: ${listeners} listeners, cpu ${(step.cpuShare * 100).toFixed(0)}%, ${step.cpuUsPerListenerSecond.toFixed(1)} µs/listener-s, ` +
        `realtime min ${step.realtimeMin.toFixed(3)}${step.closed ? `, ${step.closed} closed` : ''}, swarm cpu ${(step.swarmCpuShare * 100).toFixed(0)}%`,
    );
    steps.push(result);
    return result;
  };
  let lastPass = 0;
  let firstFail = 0;
  for (const listeners of plan.steps) {
    if (ctx.outOfTime()) break;
    const result = await tryCount(listeners);
    if (!result.ok) {
      firstFail = listeners;
      break;
    }
    lastPass = listeners;
  }
  if (plan.refine && firstFail > 0 && !ctx.outOfTime()) {
    const mid = Math.round((lastPass + firstFail) / 2 / 100) * 100;
    if (mid > lastPass && mid < firstFail && (await tryCount(mid)).ok) lastPass = mid;
  }
  await driver.stopAudio();
  await swarm.closeAll();
  return { server, idleCpuShare: Number.NaN, steps, maxRealtime: lastPass };
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
  try {
    const target = { url: relay.info.url, key };
    const stream = 'fan-out';
    const listenPath = `/v1/streams/${stream}/listen?encoding=${format.encoding}&sample_rate=${format.sampleRate}`;
    // Each step's audio is one utterance, all of it in the relay before the window opens: the window sees
    // fan-out alone, not the relay taking in the provider's faster-than-real-time burst (a per-stream cost,
    // measured once and reported apart).
    const startUtterance = async (seconds: number) => {
      const before = await source.produced();
      const cpuBefore = await relay.usage();
      const spokenAt = performance.now();
      const answer = await speak(target, stream, source.text(seconds));
      if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
      const produced = await source.quiet(before, QUIET_WAIT_MS);
      return { audioSeconds: produced, cpuMs: ((await relay.usage()).cpuUs - cpuBefore.cpuUs) / 1000, wallMs: performance.now() - spokenAt };
    };
    const cancel = async () => {
      const response = await fetch(new URL(`/v1/streams/${stream}/cancel?all=true`, target.url), { method: 'POST', headers: { authorization: `Bearer ${key}` } });
      await response.arrayBuffer();
    };
    // The first listener is there before any audio starts and stays: a format channel opened in the middle
    // of an utterance gets none of it (the fan-out learns an utterance from its start event).
    await swarm.connect(relay.info.url, listenPath, 1, key);
    ingest = await startUtterance(ctx.mode === 'smoke' ? 5 : 20);
    await sleep(plan.settleMs);
    const probe = await swarm.measure(format, Math.min(1000, plan.windowMs), relay);
    if (!(probe.step.framesPerSecond > 0)) throw new Error(`the relay sent no audio (${JSON.stringify(probe.raw)})\n${relay.stderr()}`);
    // A frame lasts as long as its samples play: the baseline sends the same frames at exactly that pace.
    const payloadBytes = Math.round(probe.step.meanFrameBytes) - AUDIO_HEADER_BYTES;
    frame = { payloadBytes, frameMs: (payloadBytes / bytesPerSecond(format)) * 1000 };
    relayRamp = await ramp(
      ctx,
      {
        server: `relay (${runtime})`,
        child: relay,
        connect: (n) => swarm.connect(relay.info.url, listenPath, n, key),
        startAudio: async (seconds) => void (await startUtterance(seconds)),
        stopAudio: cancel,
      },
      swarm,
      format,
      plan,
      1,
    );
  } finally {
    await relay.stop();
  }

  const baseline = await spawnChild<{ url: string }>('test/bench/broadcast-child.ts', { runtime });
  let baselineRamp: ServerRamp;
  try {
    baselineRamp = await ramp(
      ctx,
      {
        server: `${runtime === 'bun' ? 'Bun publish' : 'ws'} broadcast`,
        child: baseline,
        connect: (n) => swarm.connect(baseline.info.url, '/', n),
        startAudio: async () => void (await baseline.call('play', { payloadBytes: frame.payloadBytes, frameMs: frame.frameMs, leadMs: ctx.playoutLeadMs })),
        stopAudio: async () => void (await baseline.call('stop')),
      },
      swarm,
      format,
      plan,
      0,
    );
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
