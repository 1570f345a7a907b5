/**
 * The bench's measures, by name: `npm run bench -- <name> …` runs those, `npm run bench` every default one.
 * To add one, write a module under measures/ and add an entry here: a name, a line for --help, and run(),
 * which returns table rows (item = the figure number), optional curves to plot, and details for JSON.
 */
import type { Runtime } from '../child-process.ts';
import type { BenchContext } from '../context.ts';
import type { Curve } from '../plot.ts';
import type { Row } from '../report.ts';
import type { AudioSource } from '../sources.ts';
import { bufferingRows, measureBuffering } from './buffering.ts';
import { conversionRows, measureConversion } from './conversion.ts';
import type { ConversionSocketsPlan } from './conversion-sockets.ts';
import { engineRows, measureEngine } from './engine.ts';
import { fanOutCurve, fanOutCurveRows, type FanOutCurvePlan, measureFanOutCurve } from './fan-out-curve.ts';
import { fanOutRows, type FanOutPlan, measureFanOut } from './fan-out.ts';
import { latencyCurves, latencyRows, type LatencyPlan, measureLatency } from './latency.ts';
import { driftCurve, driftRows, measureDrift, measureSync, type ScenarioName, syncRows } from './sync.ts';
import { measureWarmStart, warmStartRows } from './warm-start.ts';
import { measureMemoryCurve, memoryCurve, memoryCurveRows, type MemoryCurvePlan, type MemoryCurveResult } from './memory-curve.ts';

/** smoke: seconds, every path once (npm test); quick: the curves' lower points (~5 min); full: ~15 min. */
export type Size = 'smoke' | 'quick' | 'full';

export interface Sources {
  /** The Cartesia emulator streaming at a fast model's pace (latency); null when it would not start. */
  paced(): Promise<AudioSource | null>;
  /** The emulator sending each utterance at once (fan-out, conversion), else espeak. */
  audio(): Promise<AudioSource>;
}

export interface MeasureContext {
  bench: BenchContext;
  size: Size;
  runtimes: Runtime[];
  /** --rounds: overrides each measure's own round count. */
  rounds: number | undefined;
  sources: Sources;
  synthesisDelayMs: number;
}

export interface MeasureOutput {
  rows: Row[];
  curves?: Curve[];
  details: unknown;
}

export interface Measure {
  name: string;
  summary: string;
  /** Run unless measures are named on the command line. */
  byDefault: boolean;
  /** The emulator it reads: measures sharing one never run at once (they count its chunks). */
  source?: 'paced' | 'burst';
  run(m: MeasureContext): Promise<MeasureOutput>;
}

const pick = <T>(size: Size, plans: Record<Size, T>): T => plans[size];

async function fanOut(m: MeasureContext): Promise<MeasureOutput> {
  const plan = pick<FanOutCurvePlan>(m.size, {
    smoke: { steps: [5], rounds: 2, settleMs: 200, windowMs: 300, minListenerSeconds: 0 },
    quick: { steps: [100, 1000], rounds: 3, settleMs: 1000, windowMs: 1500, minListenerSeconds: 500, smallSteps: { upTo: 100, rounds: 5 } },
    full: { steps: [100, 1000, 4000], rounds: 4, settleMs: 1500, windowMs: 2000, minListenerSeconds: 500, smallSteps: { upTo: 100, rounds: 8 } },
  });
  const source = await m.sources.audio();
  const results = [];
  // --rounds sets every step's count, the small steps' too.
  const rounds = m.rounds === undefined ? {} : { rounds: m.rounds, smallSteps: undefined };
  for (const runtime of m.runtimes) results.push(await measureFanOutCurve(m.bench, runtime, source, { ...plan, ...rounds }));
  return { rows: results.flatMap(fanOutCurveRows), curves: results.map(fanOutCurve), details: results };
}

async function latency(m: MeasureContext): Promise<MeasureOutput> {
  const source = await m.sources.paced();
  if (!source) throw new Error('added latency needs the Cartesia emulator, which did not start');
  const pauseMs = (c: number) => (c <= 1 ? 10 : c <= 10 ? 100 : c <= 100 ? 1500 : 8000);
  const plan = pick<LatencyPlan>(m.size, {
    smoke: { concurrency: [1, 3], rounds: 2, blockMs: 200, pauseMs: (c) => (c === 1 ? 5 : 50) },
    quick: { concurrency: [1, 10, 100], rounds: 4, blockMs: 1500, targetLevels: { from: 100, blockMs: 3000 }, pauseMs },
    full: { concurrency: [1, 10, 100, 1000], rounds: 8, blockMs: 2500, targetLevels: { from: 100, blockMs: 5000 }, pauseMs: (c) => (c >= 1000 ? 10_000 : pauseMs(c)) },
  });
  const result = await measureLatency(m.bench, 'node', source, m.synthesisDelayMs, { ...plan, rounds: m.rounds ?? plan.rounds });
  return { rows: latencyRows(result), curves: latencyCurves(result), details: result };
}

async function memory(m: MeasureContext): Promise<MeasureOutput> {
  const plan = pick<MemoryCurvePlan>(m.size, {
    smoke: { steps: [20], rounds: 2 },
    quick: { steps: [1000], rounds: 3 },
    full: { steps: [1000, 10_000], rounds: 3 },
  });
  const results: MemoryCurveResult[] = [];
  for (const runtime of m.runtimes) results.push(await measureMemoryCurve(m.bench, runtime, { ...plan, rounds: m.rounds ?? plan.rounds }));
  return { rows: results.flatMap(memoryCurveRows), curves: [memoryCurve(results)], details: results };
}

async function ramp(m: MeasureContext): Promise<MeasureOutput> {
  const plan: FanOutPlan =
    m.size === 'smoke'
      ? { steps: [5, 20], settleMs: 300, windowMs: 500, refine: false }
      : { steps: [1000, 2000, 3000, 4000, 5000, 6000, 8000], settleMs: 2000, windowMs: 2000, refine: false };
  const source = await m.sources.audio();
  const results = [];
  for (const runtime of m.runtimes) results.push(await measureFanOut(m.bench, runtime, source, plan));
  return { rows: results.flatMap(fanOutRows), details: results };
}

/** Above the 250 ms default: 150 ± 40 ms of link plus ffplay's ~160 ms queue do not fit in 250. */
const SYNC_DELAY_MS = 500;

async function sync(m: MeasureContext): Promise<MeasureOutput> {
  const every: ScenarioName[] = ['clean', 'unsynced', 'faults', 'latency', 'stall'];
  const plan = pick(m.size, {
    smoke: { utterances: 2, scenarios: ['clean'] as ScenarioName[] },
    quick: { utterances: 4, scenarios: every },
    full: { utterances: 8, scenarios: every },
  });
  const results = await measureSync({ ...plan, syncDelayMs: SYNC_DELAY_MS }, m.bench.log);
  return { rows: syncRows(results, SYNC_DELAY_MS), details: results };
}

async function syncDrift(m: MeasureContext): Promise<MeasureOutput> {
  const minutes = pick(m.size, { smoke: 0.3, quick: 2, full: 10 });
  const result = await measureDrift(minutes, SYNC_DELAY_MS, m.bench.log);
  return { rows: driftRows(result, minutes), curves: [driftCurve(result)], details: result };
}

export const MEASURES: Measure[] = [
  { name: 'fanout', source: 'burst', summary: 'CPU per listener-second at 100 / 1,000 / 4,000 listeners vs a bare broadcast (interleaved, Node and Bun)', byDefault: true, run: fanOut },
  { name: 'latency', source: 'paced', summary: 'text in → first audio at 1 / 10 / 100 / 1,000 streams vs the provider read directly in the same seconds', byDefault: true, run: latency },
  { name: 'memory', summary: 'RSS and heap per idle listener at 1,000 / 10,000 vs a bare server (interleaved, Node and Bun)', byDefault: true, run: memory },
  {
    name: 'engine',
    summary: 'embedded espeak: real-time factor, time to first audio (single readings); first utterance once a fresh relay answers ready vs a warm relay (interleaved)',
    byDefault: true,
    run: async (m) => {
      const result = await measureEngine(m.bench, 'node');
      return { rows: engineRows(result), details: result };
    },
  },
  {
    name: 'warmstart',
    summary: 'first utterance after start vs a warm relay\'s in the same moments, after 1 s idle, six fresh relays a round, a sentence new to both (Node and Bun)',
    byDefault: true,
    run: async (m) => {
      // One first utterance per fresh relay, whose time to first audio varies 2-3x from one sentence to the next at
      // load: each round takes the median of six pairs' ratios (three relays a round read 0.45-1.84x at load 3-7,
      // six 0.72-1.09x at load 12-14), each first back to back with a warm relay's of the same new sentence, after
      // the same 1 s idle, so wake-ups and load cost both alike. The warm relays serve every round, which leaves
      // time for a round more at the same cost.
      const plan = {
        smoke: { rounds: 2, relays: 1, warmRuns: 1, idleMs: 0 },
        quick: { rounds: 6, relays: 6, warmRuns: 4, idleMs: 1000 },
        full: { rounds: 7, relays: 6, warmRuns: 4, idleMs: 1000 },
      }[m.size];
      const results = [];
      for (const runtime of m.runtimes) results.push(await measureWarmStart(m.bench, runtime, { ...plan, rounds: m.rounds ?? plan.rounds }));
      return { rows: results.flatMap(warmStartRows), details: results };
    },
  },
  {
    name: 'conversion',
    source: 'burst',
    summary: 'format conversion cost per listener and per format (in-process single readings; real sockets interleaved vs a bare broadcast)',
    byDefault: true,
    run: async (m) => {
      const plan = pick<ConversionSocketsPlan>(m.size, {
        smoke: { listeners: 10, rounds: 2, settleMs: 300, windowMs: 300, minListenerSeconds: 0 },
        quick: { listeners: 100, rounds: 5, settleMs: 1000, windowMs: 1000, minListenerSeconds: 500 },
        full: { listeners: 100, rounds: 8, settleMs: 1000, windowMs: 2000, minListenerSeconds: 500 },
      });
      const result = await measureConversion(m.bench, 'node', await m.sources.audio(), { ...plan, rounds: m.rounds ?? plan.rounds });
      return { rows: conversionRows(result), details: result };
    },
  },
  {
    name: 'buffering',
    source: 'paced',
    summary: 'first token → first audio, relay aggregation vs provider buffering (single readings)',
    byDefault: true,
    run: async (m) => {
      const source = await m.sources.paced();
      if (!source) throw new Error('buffering needs the Cartesia emulator, which did not start');
      const result = await measureBuffering(m.bench, 'node', source);
      return { rows: bufferingRows(result), details: result };
    },
  },
  {
    name: 'sync',
    summary: 'two agents into two PulseAudio rooms: offset median/p95/max, no faults / jitter + skewed clock / --latency-ms 120 / a stall; first sound, sync on vs off (not by default)',
    byDefault: false,
    run: sync,
  },
  { name: 'sync-drift', summary: 'the same two rooms under faults for 10 minutes (--quick 2), one utterance every 10 s: offset over time (not by default)', byDefault: false, run: syncDrift },
  { name: 'ramp', source: 'burst', summary: 'most listeners fed in real time in one process, relay then baseline (the old ramp; not by default)', byDefault: false, run: ramp },
];
