/**
 * `npm run bench`: starts what it needs on loopback (Cartesia emulator, relays, bare baselines, listener
 * swarms, each its own process), measures each figure as interleaved relay/baseline rounds, prints a table
 * with each figure's spread and the load, and writes JSON, Markdown and an SVG per growth curve.
 *
 *   npm run bench -- --help
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Runtime } from './child-process.ts';
import { createContext } from './context.ts';
import { describeMachine } from './machine.ts';
import { MEASURES, type MeasureContext, type Size, type Sources } from './measures/index.ts';
import { type Curve, renderSvg } from './plot.ts';
import { formatMarkdown, formatTable, type Row } from './report.ts';
import { closeSpeakClients } from './speak-client.ts';
import { type AudioSource, emulatorSource, espeakSource } from './sources.ts';

/** The emulator's fixed delay before a generation's first chunk: a fast model's time to first byte. */
const SYNTHESIS_DELAY_MS = 20;
/** Pause between an utterance's 50 ms chunks from the latency emulator: 25× real time. */
const PACED_CHUNK_INTERVAL_MS = 2;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const HELP = `npm run bench -- [measure …] [options]

Each figure is measured as relay and baseline rounds interleaved (A B, B A, …) in the same process layout,
and reported as the median per-round ratio with its IQR and min–max, the load average meanwhile, and a
verdict (pass / regression / too noisy to call) only where the IQR lies wholly on one side of the limit.

measures (default: all marked *):
${MEASURES.map((m) => `  ${m.byDefault ? '*' : ' '} ${m.name.padEnd(11)} ${m.summary}`).join('\n')}

options:
  --quick            the curves' lower points and fewer rounds (~5 min)
  --smoke            seconds-long run of every path (npm test); figures meaningless
  --rounds N         interleaved rounds per figure (default: by size, 3–5)
  --runtimes LIST    node,bun (default: both when Bun is installed)
  --out FILE         JSON report (default test/bench/results/bench-results.json); .md and .<curve>.svg beside it
  --budget SECONDS   stop starting new steps past this (default: smoke 120, quick 600, full 2100)
  --only LIST        same as naming measures, comma-separated
  --profile DIR      Node CPU profiles, in DIR: latency, the relay in each level's first relay round; conversion, the
                     relay over 10 s of each format after the warm-up; fanout, the relay and the bare broadcast over 10 s
                     before each step's first window
  --help             this text
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    help: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    runtimes: { type: 'string' },
    out: { type: 'string' },
    budget: { type: 'string' },
    profile: { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const size: Size = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
const named = [...positionals, ...(values.only?.split(',').map((s) => s.trim()) ?? [])].filter(Boolean);
for (const name of named) if (!MEASURES.some((m) => m.name === name)) throw new Error(`unknown measure ${name}; known: ${MEASURES.map((m) => m.name).join(', ')} (see --help)`);
const selected = named.length ? MEASURES.filter((m) => named.includes(m.name)) : MEASURES.filter((m) => m.byDefault);
const machine = describeMachine();
const runtimes = (values.runtimes?.split(',') ?? ['node', ...(machine.bun ? ['bun'] : [])]) as Runtime[];
const budgetMs = Number(values.budget ?? { smoke: 120, quick: 600, full: 2100 }[size]) * 1000;
const out = values.out ?? `${RESULTS_DIR}${size === 'smoke' ? 'bench-smoke.json' : 'bench-results.json'}`;
const rounds = values.rounds ? Number(values.rounds) : undefined;
if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new Error('--rounds takes a whole number ≥ 1');

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
const bench = { ...createContext(size === 'smoke' ? 'smoke' : 'full', budgetMs, log), ...(values.profile ? { profileDir: values.profile } : {}) };
if (values.profile) mkdirSync(values.profile, { recursive: true });
const notes: string[] = [];
const errors: Array<{ section: string; error: string }> = [];

/** Emulators start on first use and stop at the end. */
function lazySources(): Sources & { stop(): Promise<void> } {
  const started: Array<Promise<AudioSource | null>> = [];
  const once = (chunkIntervalMs: number) => {
    let promise: Promise<AudioSource | null> | null = null;
    return () =>
      (promise ??= (() => {
        const p = emulatorSource({ synthesisDelayMs: SYNTHESIS_DELAY_MS, chunkIntervalMs }).catch((error: unknown) => {
          notes.push(`the Cartesia emulator did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
          return null;
        });
        started.push(p);
        return p;
      })());
  };
  const burst = once(0);
  return {
    paced: once(PACED_CHUNK_INTERVAL_MS),
    audio: async () => (await burst()) ?? espeakSource(),
    async stop() {
      for (const source of await Promise.all(started)) await source?.stop();
    },
  };
}

const sources = lazySources();
const m: MeasureContext = { bench, size, runtimes, rounds, sources, synthesisDelayMs: SYNTHESIS_DELAY_MS };
const rows: Row[] = [];
const curves: Curve[] = [];
const details: Record<string, unknown> = {};
const loads: number[] = [os.loadavg()[0]!];
const loadTimer = setInterval(() => loads.push(os.loadavg()[0]!), 5000);

async function runMeasure(measure: (typeof selected)[number]): Promise<void> {
  if (bench.outOfTime()) {
    notes.push(`${measure.name}: skipped, the run's time budget was spent`);
    return;
  }
  log(`${measure.name}…`);
  try {
    const output = await measure.run(m);
    rows.push(...output.rows);
    curves.push(...(output.curves ?? []));
    details[measure.name] = output.details;
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    errors.push({ section: measure.name, error: message });
    log(`${measure.name} failed: ${message}`);
  }
}

try {
  // A smoke run checks that every path works, never how fast: its measures run at once to keep npm test short,
  // except those reading the same emulator, which run one after the other.
  if (size === 'smoke') {
    const lanes = new Map<string, typeof selected>();
    for (const measure of selected) lanes.set(measure.source ?? measure.name, [...(lanes.get(measure.source ?? measure.name) ?? []), measure]);
    await Promise.all([...lanes.values()].map(async (lane) => {
      for (const measure of lane) await runMeasure(measure);
    }));
  } else for (const measure of selected) await runMeasure(measure);
} finally {
  clearInterval(loadTimer);
  await sources.stop();
  closeSpeakClients();
}

rows.sort((a, b) => a.item - b.item);
loads.push(os.loadavg()[0]!);
const durationSeconds = (performance.now() - started) / 1000;
const load = { min: Math.min(...loads), max: Math.max(...loads), start: loads[0]!, end: loads[loads.length - 1]! };
const machineLine = `${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}, bun ${machine.bun ?? 'absent'}; load ${load.min.toFixed(1)}–${load.max.toFixed(1)}`;
const plots: string[] = [];
mkdirSync(dirname(out), { recursive: true });
for (const curve of curves) {
  const file = out.replace(/\.json$/, `.${curve.id}.svg`);
  writeFileSync(file, renderSvg({ ...curve, subtitle: curve.subtitle ?? `${machineLine}; ${new Date().toISOString().slice(0, 16)}Z` }));
  plots.push(file);
}
const report = {
  benchmark: 'tts-relay',
  mode: size,
  takenAt: new Date().toISOString(),
  durationSeconds: Math.round(durationSeconds),
  machine: { ...machine, load, loadAverageAtEnd: load.end },
  synthesisDelayMs: SYNTHESIS_DELAY_MS,
  pacedChunkIntervalMs: PACED_CHUNK_INTERVAL_MS,
  measures: selected.map((s) => s.name),
  notes,
  errors,
  rows,
  plots,
  details,
};
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(out.replace(/\.json$/, '.md'), `${machineLine}\n\n${formatMarkdown(rows)}\n`);

process.stdout.write(`\ntts-relay bench (${size}) — ${machineLine}; ${Math.round(durationSeconds)} s\n\n${formatTable(rows)}\n\n`);
for (const note of notes) process.stdout.write(`note: ${note}\n`);
for (const error of errors) process.stdout.write(`error in ${error.section}: ${error.error.split('\n')[0]}\n`);
process.stdout.write(`results: ${out}${plots.length ? `\nplots: ${plots.join(' ')}` : ''}\n`);
process.exit(errors.length > 0 ? 1 : 0);
