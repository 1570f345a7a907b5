/**
 * The Bun and Deno entries are outside Node's typecheck (tsconfig.json excludes them): they are checked
 * here against bun-types and by `deno check`, each over the whole worker they import.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DENO, ROOT } from './relay-process.ts';

// Each check takes 7-10 s of CPU alone; generous, since it shares two cores with the rest of the suite.
const TYPECHECK_TIMEOUT_MS = 300_000;

async function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const [code] = await once(child, 'close');
  return { code: code as number | null, output };
}

it('worker/runtime/bun.ts typechecks against bun-types', async () => {
  const result = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'worker/runtime/tsconfig.bun.json']);
  expect(result.output).toBe('');
  expect(result.code).toBe(0);
}, TYPECHECK_TIMEOUT_MS);

it('worker/runtime/deno.ts, deno-serve.ts and the agent pass deno check', async () => {
  // With "nodeModulesDir": "manual", deno check finds npm type packages (@types/node) only in a node_modules
  // beside the config file; worker/deno.json's has none, so the check runs on a copy that has one.
  const dir = mkdtempSync(join(tmpdir(), 'tts-deno-check-'));
  try {
    copyFileSync(join(ROOT, 'worker/deno.json'), join(dir, 'deno.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const result = await run(DENO, ['check', '--quiet', '--config', join(dir, 'deno.json'), 'worker/runtime/deno-serve.ts', 'agent/main.ts'], { DENO_NO_UPDATE_CHECK: '1' });
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, TYPECHECK_TIMEOUT_MS);
