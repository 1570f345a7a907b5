/**
 * `npm run bench`: starts what it needs on loopback (Cartesia emulator, relays, bare baselines, listener
 * swarms, each its own process), measures the six figures of the performance issue side by side with their
 * baselines, prints a table and writes JSON. `--smoke` is a seconds-long run of every path for CI.
 *
 *   npm run bench [-- --smoke] [--only latency,fanout,memory,engine,conversion,buffering]
 *                 [--runtimes node,bun] [--out FILE] [--budget SECONDS]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Runtime } from './child-process.ts';
import { type BenchContext, createContext } from './context.ts';
import { describeMachine } from './machine.ts';
import { bufferingRows, measureBuffering } from './measures/buffering.ts';
import { conversionRows, measureConversion } from './measures/conversion.ts';
import { engineRows, measureEngine } from './measures/engine.ts';
import { fanOutRows, type FanOutPlan, measureFanOut } from './measures/fan-out.ts';
import { latencyRows, type LatencyPlan, measureLatency } from './measures/latency.ts';
import { measureMemory, memoryRows } from './measures/memory.ts';
import { formatMarkdown, formatTable, type Row } from './report.ts';
import { closeSpeakClients } from './speak-client.ts';
import { type AudioSource, emulatorSource, espeakSource } from './sources.ts';

const SECTIONS = ['engine', 'memory', 'latency', 'buffering', 'conversion', 'fanout'] as const;
type Section = (typeof SECTIONS)[number];

/** The emulator's fixed delay before a generation's first chunk: a fast model's time to first byte. */
const SYNTHESIS_DELAY_MS = 20;
/** Pause between an utterance's 50 ms chunks from the latency emulator: 25× real time. */
const PACED_CHUNK_INTERVAL_MS = 2;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    runtimes: { type: 'string' },
    out: { type: 'string' },
    budget: { type: 'string' },
  },
});

const mode = values.smoke ? 'smoke' : 'full';
const only = values.only ? (values.only.split(',').map((s) => s.trim()) as Section[]) : [...SECTIONS];
for (const section of only) if (!SECTIONS.includes(section)) throw new Error(`unknown section ${section}; known: ${SECTIONS.join(', ')}`);
const machine = describeMachine();
const runtimes = (values.runtimes?.split(',') ?? ['node', ...(machine.bun ? ['bun'] : [])]) as Runtime[];
const budgetMs = Number(values.budget ?? (mode === 'smoke' ? 120 : 270)) * 1000;
const out = values.out ?? `${RESULTS_DIR}${mode === 'smoke' ? 'bench-smoke.json' : 'bench-results.json'}`;

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
const ctx: BenchContext = createContext(mode, budgetMs, log);

const LATENCY_PLAN: Record<typeof mode, LatencyPlan> = {
  full: { concurrency: [1, 100], blocks: 3, blockMs: 2500, pauseMs: (c) => (c === 1 ? 10 : 1500) },
  smoke: { concurrency: [1, 5], blocks: 1, blockMs: 400, pauseMs: (c) => (c === 1 ? 5 : 50) },
};
const FAN_OUT_PLAN: Record<typeof mode, FanOutPlan> = {
  full: { steps: [1000, 2000, 3000, 4000, 5000, 6000, 8000], settleMs: 2000, windowMs: 2000, refine: false },
  smoke: { steps: [5, 20], settleMs: 300, windowMs: 500, refine: false },
};

const rows: Row[] = [];
const details: Record<string, unknown> = {};
const errors: Array<{ section: string; runtime?: string; error: string }> = [];
const notes: string[] = [];

async function attempt(section: Section, runtime: Runtime | undefined, run: () => Promise<void>): Promise<void> {
  const label = runtime ? `${section} (${runtime})` : section;
  if (ctx.outOfTime()) {
    notes.push(`${label}: skipped, the run's time budget was spent`);
    log(`${label}: skipped (time budget spent)`);
    return;
  }
  log(`${label}…`);
  try {
    await run();
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    errors.push({ section, ...(runtime ? { runtime } : {}), error: message });
    log(`${label} failed: ${message}`);
  }
}

/**
 * Two emulators: one streaming its chunks at a fast model's pace (25× real time) for the latency figures,
 * one sending each utterance at once, so fan-out and conversion windows open after it has all arrived.
 */
async function startEmulator(chunkIntervalMs: number): Promise<AudioSource | null> {
  try {
    return await emulatorSource({ synthesisDelayMs: SYNTHESIS_DELAY_MS, chunkIntervalMs });
  } catch (error) {
    notes.push(`the Cartesia emulator did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): latency and buffering are skipped, fan-out and conversion run on espeak`);
    return null;
  }
}
const emulator = only.some((s) => s === 'latency' || s === 'buffering') ? await startEmulator(PACED_CHUNK_INTERVAL_MS) : null;
const burstEmulator = only.some((s) => s === 'conversion' || s === 'fanout') ? await startEmulator(0) : null;
const audioSource = burstEmulator ?? espeakSource();

try {
  if (only.includes('engine')) {
    await attempt('engine', 'node', async () => {
      const result = await measureEngine(ctx, 'node');
      details.engine = result;
      rows.push(...engineRows(result));
    });
  }
  if (only.includes('memory')) {
    for (const runtime of runtimes) {
      await attempt('memory', runtime, async () => {
        const result = await measureMemory(ctx, runtime);
        details[`memory_${runtime}`] = result;
        rows.push(...memoryRows(result));
      });
    }
  }
  if (only.includes('latency') && emulator) {
    await attempt('latency', 'node', async () => {
      const result = await measureLatency(ctx, 'node', emulator!, SYNTHESIS_DELAY_MS, LATENCY_PLAN[mode]);
      details.latency = result;
      rows.push(...latencyRows(result));
    });
  }
  if (only.includes('buffering') && emulator) {
    await attempt('buffering', 'node', async () => {
      const result = await measureBuffering(ctx, 'node', emulator!);
      details.buffering = result;
      rows.push(...bufferingRows(result));
    });
  }
  if (only.includes('conversion')) {
    await attempt('conversion', 'node', async () => {
      const result = await measureConversion(ctx, 'node', audioSource);
      details.conversion = result;
      rows.push(...conversionRows(result));
    });
  }
  if (only.includes('fanout')) {
    for (const runtime of runtimes) {
      await attempt('fanout', runtime, async () => {
        const result = await measureFanOut(ctx, runtime, audioSource, FAN_OUT_PLAN[mode]);
        details[`fanout_${runtime}`] = result;
        rows.push(...fanOutRows(result));
      });
    }
  }
} finally {
  await emulator?.stop();
  await burstEmulator?.stop();
  closeSpeakClients();
}

rows.sort((a, b) => a.item - b.item);
const durationSeconds = (performance.now() - started) / 1000;
const report = {
  benchmark: 'tts-relay',
  mode,
  takenAt: new Date().toISOString(),
  durationSeconds: Math.round(durationSeconds),
  machine: { ...machine, loadAverageAtEnd: os.loadavg()[0] },
  source: audioSource.name,
  synthesisDelayMs: SYNTHESIS_DELAY_MS,
  pacedChunkIntervalMs: PACED_CHUNK_INTERVAL_MS,
  notes,
  errors,
  rows,
  details,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(out.replace(/\.json$/, '.md'), `${formatMarkdown(rows)}\n`);

process.stdout.write(
  `\ntts-relay bench (${mode}) — ${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}, bun ${machine.bun ?? 'absent'}; ` +
    `load ${machine.loadAverageAtStart.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}; ${Math.round(durationSeconds)} s\n\n${formatTable(rows)}\n\n`,
);
for (const note of notes) process.stdout.write(`note: ${note}\n`);
for (const error of errors) process.stdout.write(`error in ${error.section}${error.runtime ? ` (${error.runtime})` : ''}: ${error.error.split('\n')[0]}\n`);
process.stdout.write(`results: ${out}\n`);
process.exit(errors.length > 0 ? 1 : 0);
