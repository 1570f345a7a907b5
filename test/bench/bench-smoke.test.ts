import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tts-relay-bench-'));
// A loaded CI machine may be slow; the smoke checks that every path runs, never how fast (Node children
// only: the Bun relay is exercised by test/runtimes/).
const SMOKE_TIMEOUT_MS = 240_000;

const number = z.number().nullable();
// A figure with no finite round (a baseline measured at 0 in a smoke's two short rounds) is NaN, which JSON writes as null.
const spreadSchema = z.object({ median: number, q1: number, q3: number, min: number, max: number });
const rowSchema = z.object({
  item: z.number().int().min(1).max(6),
  figure: z.string().min(1),
  unit: z.string().min(1),
  relay: number,
  baseline: number,
  baselineName: z.string(),
  ratio: number,
  target: z.string().optional(),
  verdict: z.enum(['met', 'missed', 'n/a', 'pass', 'regression', 'too noisy to call']).optional(),
  note: z.string().optional(),
  interleaved: z
    .object({ rounds: z.number().int().positive(), kind: z.enum(['ratio', 'difference']), spread: spreadSchema, load: z.object({ min: z.number(), max: z.number() }) })
    .optional(),
});
const reportSchema = z.object({
  benchmark: z.literal('tts-relay'),
  mode: z.literal('smoke'),
  takenAt: z.string(),
  durationSeconds: z.number(),
  machine: z.object({ cores: z.number().int().positive(), cpuModel: z.string(), node: z.string(), bun: z.string().nullable() }),
  notes: z.array(z.string()),
  errors: z.array(z.object({ section: z.string(), error: z.string() })),
  rows: z.array(rowSchema),
  plots: z.array(z.string()),
  details: z.record(z.string(), z.unknown()),
});

function runSmoke(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/run.ts', '--smoke', '--runtimes', 'node', '--out', out, '--budget', '200'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench -- --smoke', () => {
  it(
    'runs every measurement end to end and writes a well-formed table and JSON report',
    async () => {
      const out = join(dir, 'bench-smoke.json');
      const { code, stdout, stderr } = await runSmoke(out);
      expect(code, `bench exited ${code}\n${stdout}\n${stderr.slice(-4000)}`).toBe(0);
      expect(stdout).toMatch(/^#\s+figure\s+relay\s+baseline\s+ratio/m);

      const report = reportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
      expect(report.errors).toEqual([]);
      // Every one of the six figures has at least one row; none was skipped for want of time.
      expect(new Set(report.rows.map((r) => r.item))).toEqual(new Set([1, 2, 3, 4, 5, 6]));
      expect(report.notes.filter((n) => n.includes('skipped'))).toEqual([]);
      // The growth curves (fan-out, latency, memory), warm start and conversion over real sockets are interleaved rounds with their spread and load.
      const interleaved = report.rows.filter((r) => r.interleaved);
      expect(new Set(interleaved.map((r) => r.item))).toEqual(new Set([1, 2, 3, 4, 5]));
      for (const r of report.rows) {
        const i = r.interleaved;
        if (!i) {
          if (r.relay !== null && r.baseline !== null && r.baseline !== 0) expect(r.ratio).toBeCloseTo(r.relay / r.baseline, 6);
          continue;
        }
        expect(i.rounds).toBe(2);
        const { min, q1, median, q3, max } = i.spread;
        if (min !== null && q1 !== null && median !== null && q3 !== null && max !== null) {
          expect(min).toBeLessThanOrEqual(q1);
          expect(q1).toBeLessThanOrEqual(median);
          expect(median).toBeLessThanOrEqual(q3);
          expect(q3).toBeLessThanOrEqual(max);
        } else {
          expect(r.ratio ?? r.relay, `row ${r.figure}: a spread without finite rounds`).toBeNull();
        }
        expect(i.load.min).toBeLessThanOrEqual(i.load.max);
        // Two rounds never earn a verdict: only a target's rows carry one, and it says so.
        if (r.target) expect(r.verdict).toBe('too noisy to call');
      }
      expect(report.plots.length).toBeGreaterThanOrEqual(3);
      for (const plot of report.plots) expect(readFileSync(plot, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<circle /);
      expect(readFileSync(out.replace(/\.json$/, '.md'), 'utf8')).toMatch(/^\| # \| figure \|/m);
    },
    SMOKE_TIMEOUT_MS,
  );
});
