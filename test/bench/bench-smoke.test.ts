import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tts-relay-bench-'));
// A loaded CI machine may be slow; the smoke checks that every path runs, never how fast.
const SMOKE_TIMEOUT_MS = 240_000;

const number = z.number().nullable();
const rowSchema = z.object({
  item: z.number().int().min(1).max(6),
  figure: z.string().min(1),
  unit: z.string().min(1),
  relay: number,
  baseline: number,
  baselineName: z.string(),
  ratio: number,
  target: z.string().optional(),
  verdict: z.enum(['met', 'missed', 'n/a']).optional(),
  note: z.string().optional(),
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
  details: z.record(z.string(), z.unknown()),
});

function runSmoke(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/run.ts', '--smoke', '--out', out, '--budget', '200'], {
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
      for (const r of report.rows) {
        if (r.relay !== null && r.baseline !== null && r.baseline !== 0) expect(r.ratio).toBeCloseTo(r.relay / r.baseline, 6);
      }
      expect(readFileSync(out.replace(/\.json$/, '.md'), 'utf8')).toMatch(/^\| # \| figure \|/);
    },
    SMOKE_TIMEOUT_MS,
  );
});
