/**
 * The agent on every runtime, and as one self-contained executable (`npm run build:agent`, bun build
 * --compile) that plays an utterance on a machine without Node: here, with an empty PATH.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { secondsOf } from '../../shared/audio-format.ts';
import { parseWav } from '../../shared/wav.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';
import { BUN, DENO, ROOT, RUNTIMES, type Runtime } from './relay-process.ts';

export const AGENT_BINARY = join(ROOT, 'dist', 'tts-agent');
const DENO_AGENT_PERMISSIONS = ['--allow-net', '--allow-env', '--allow-read', '--allow-write', '--allow-run'];
const RUN_TIMEOUT_MS = 20_000;

/** How each runtime starts the agent from source: what README documents. */
function agentCommand(runtime: Runtime | 'binary'): string[] {
  switch (runtime) {
    case 'binary':
      return [AGENT_BINARY];
    case 'bun':
      return [BUN, 'agent/main.ts'];
    case 'deno':
      return [DENO, 'run', '--config', 'worker/deno.json', ...DENO_AGENT_PERMISSIONS, 'agent/main.ts'];
    case 'node':
      return [process.execPath, 'agent/bin.mjs'];
  }
}

interface AgentRun {
  exited: Promise<{ code: number | null; stderr: string; stdout: string }>;
  stderr(): string;
  running(): boolean;
}

function runAgent(runtime: Runtime | 'binary', args: string[], env: Record<string, string> = {}): AgentRun {
  const [command, ...rest] = agentCommand(runtime);
  const child = spawn(command!, [...rest, ...args], {
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', HOME: process.env.HOME ?? '/tmp', PATH: process.env.PATH ?? '', SDL_AUDIODRIVER: 'dummy', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const exited = once(child, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stderr, stdout };
  });
  return { exited, stderr: () => stderr, running: () => child.exitCode === null && child.signalCode === null };
}

let relay: TestRelay;
const tmp = mkdtempSync(join(tmpdir(), 'tts-agent-runtimes-'));

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await relay?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts `listen --once` with `args`, waits until it is connected, speaks, and returns both results. */
async function listenOnce(runtime: Runtime | 'binary', stream: string, args: string[], env: Record<string, string> = {}) {
  const agent = runAgent(runtime, ['listen', stream, '--url', relay.url, '--token', TEST_ADMIN_KEY, '--once', ...args], env);
  await within(
    (async () => {
      while (!agent.stderr().includes(`connected to ${stream}`)) {
        if (!agent.running()) throw new Error(`${runtime} agent exited before connecting:\n${agent.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    RUN_TIMEOUT_MS,
    `${runtime} agent connected`,
  );
  const spoken = (await (await relay.speak(stream, `Hello from the ${runtime} agent test.`, { query: 'wait=true' })).json()) as SpeakCompleted;
  const exit = await within(agent.exited, RUN_TIMEOUT_MS, `${runtime} agent exit`);
  return { spoken, exit };
}

/**
 * In step (the default) the file is the heard timeline: all the audio, none of it late, plus the silence of any
 * gap the relay's timeline had (a provider that fell behind on a busy machine).
 */
function expectRecorded(out: string, spoken: SpeakCompleted): void {
  const wav = parseWav(new Uint8Array(readFileSync(out)));
  const timeline = JSON.parse(readFileSync(`${out}.timeline.json`, 'utf8')) as { late_samples: number; dropped_samples: number };
  expect(timeline.late_samples).toBe(0);
  const seconds = secondsOf(wav.format, wav.data.byteLength);
  expect(seconds).toBeGreaterThanOrEqual(spoken.audio_seconds - timeline.dropped_samples / wav.format.sampleRate - 0.001);
  expect(seconds).toBeLessThan(spoken.audio_seconds + 0.5);
}

describe.each(RUNTIMES)('the agent under %s', (runtime) => {
  it('records an utterance to a WAV file and exits 0 after it', async () => {
    const out = join(tmp, `${runtime}.wav`);
    const { spoken, exit } = await listenOnce(runtime, `agent-${runtime}`, ['--out', out]);
    expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expect(spoken.reason).toBe('done');
    expectRecorded(out, spoken);
  });
});

describe('the compiled agent (bun build --compile)', () => {
  beforeAll(async () => {
    // `npm run build:agent`, run here the same way: a fresh build each run, so the binary is never stale.
    const build = spawn('npm', ['run', '--silent', 'build:agent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    build.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const [code] = await once(build, 'close');
    if (code !== 0 || !existsSync(AGENT_BINARY)) throw new Error(`npm run build:agent failed (${code}):\n${stderr}`);
  }, 60_000);

  it('runs with no Node (an empty PATH) and records an utterance', async () => {
    const out = join(tmp, 'binary.wav');
    const { spoken, exit } = await listenOnce('binary', 'agent-binary', ['--out', out], { PATH: '' });
    expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expectRecorded(out, spoken);
  });

  it('plays an utterance through ffplay (headless, SDL_AUDIODRIVER=dummy)', async () => {
    const ffplay = ['/usr/bin/ffplay', '/usr/local/bin/ffplay'].find((path) => existsSync(path));
    expect(ffplay, 'ffplay is installed by .ci/run (ffmpeg)').toBeDefined();
    const { spoken, exit } = await listenOnce('binary', 'agent-binary-ffplay', ['--player', 'ffplay'], { PATH: '', FFPLAY_PATH: ffplay! });
    expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expect(spoken.reason).toBe('done');
    expect(exit.stderr).toMatch(/utterance 1 done/);
  });

  it('speaks with say --wait', async () => {
    const say = runAgent('binary', ['say', 'agent-binary-say', 'Said by the compiled agent.', '--wait', '--url', relay.url, '--token', TEST_ADMIN_KEY], { PATH: '' });
    const exit = await within(say.exited, RUN_TIMEOUT_MS, 'say exit');
    expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expect(exit.stdout).toMatch(/^utt_/);
  });
});
