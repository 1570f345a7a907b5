import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { wallClockOrigin } from '../../shared/clock-estimator.js';
import { relayClockAt } from '../../worker/core/relay-clock.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { AGENT_BIN } from './agent-process.ts';

let relay: TestRelay;
let dir: string;
const children: Array<ReturnType<typeof spawn>> = [];

beforeEach(async () => {
  relay = await startTestRelay();
  dir = mkdtempSync(join(tmpdir(), 'clock-sync-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ClockLine {
  type: 'clock';
  offset_ms: number;
  uncertainty_ms: number;
  rtt_ms: number;
  samples: number;
}

/** `tts-agent listen --json`, optionally under `faketime`, until it has printed `count` clock estimates. */
function listenAgent(name: string, count: number, wrapper: string[] = []): Promise<{ clocks: ClockLine[]; stderr: string }> {
  const command = [...wrapper, process.execPath, AGENT_BIN, 'listen', 'kitchen', '--url', relay.url, '--token', TEST_ADMIN_KEY, '--sync', 'on'];
  const args = [...command.slice(1), '--player', 'none', '--out', join(dir, `${name}.wav`), '--json'];
  const child = spawn(command[0]!, args, { env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const clocks: ClockLine[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: ${clocks.length} clock lines in 30 s; stderr: ${stderr}`)), 30_000);
    child.on('close', (code) => reject(new Error(`${name} exited ${code}: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) clocks.push(JSON.parse(line) as ClockLine);
      if (clocks.length >= count) {
        clearTimeout(timer);
        resolve({ clocks, stderr });
      }
    });
  });
}

describe('tts-agent listen keeps the relay clock', () => {
  it('estimates it to the millisecond from a machine whose wall clock is 700 ms off, and says so', async () => {
    const [plain, skewed] = await Promise.all([listenAgent('plain', 10), listenAgent('skewed', 10, ['faketime', '-f', '+0.7s'])]);
    const last = (run: { clocks: ClockLine[] }) => run.clocks.at(-1)!;
    // Same host as the relay: the plain agent's clock is the wall clock as it read at the agent's start, the relay's
    // as it read at this process's start; they differ by whatever the wall clock stepped in between (NTP on a fresh
    // machine), which this process can read off now. The skewed agent's clock runs 700 ms ahead of it.
    const relayAheadOfWall = relayClockAt(0) - wallClockOrigin();
    expect(Math.abs(last(plain).offset_ms - relayAheadOfWall)).toBeLessThan(last(plain).uncertainty_ms + 2);
    // faketime's offset is applied when the process starts (±a few ms of its own start-up), so compare loosely to 700
    // and tightly to what each agent claims.
    expect(last(skewed).offset_ms).toBeGreaterThan(-720);
    expect(last(skewed).offset_ms).toBeLessThan(-660);
    for (const run of [plain, skewed]) {
      expect(last(run).samples).toBeGreaterThanOrEqual(10);
      expect(last(run).uncertainty_ms).toBeLessThan(20);
      expect(last(run).rtt_ms).toBeGreaterThanOrEqual(0);
    }
    expect(skewed.stderr).toMatch(/relay clock −\d+\.\d ms ± \d+\.\d/);
  });
});
