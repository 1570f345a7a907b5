/**
 * README cannot rot: the shell blocks of its first screen, "Speaking" and "Listening" run as written, in
 * order, in three terminals of a scratch copy of the checkout (its files linked, so the .env and recordings
 * they write stay out of the repository), against a relay started the way README says. What differs from a
 * person at a terminal, and only this:
 * - `localhost:8787` becomes a free port (PORT and TTS_RELAY_URL say the same), on a machine other tests share;
 * - ffplay plays with SDL_AUDIODRIVER=dummy, there being no sound card;
 * - OpenAI is a stand-in on loopback streaming chat-completion chunks (OPENAI_BASE_URL, OPENAI_API_KEY);
 * - `npm install` (done before the suite runs) and `npm test` (this suite) are not run again;
 * - terminal 1's `npm start` and terminal 2's `npx tts-agent listen` keep running as they would; each listener
 *   of the Listening section runs in turn, hears one utterance spoken for it, and is stopped with Ctrl-C (SIGINT);
 *   `npm run demo:browser` runs until its player page answers, then gets its Ctrl-C.
 * Terminals keep their shell variables from one block to the next; a block fails on its first failing command
 * (`set -e -o pipefail`), and an answer with an `"error"` in it fails it too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../runtimes/relay-process.ts';
import { commandLines, readmeShellBlocks, type ShellBlock, withoutComment } from './readme-blocks.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const NOT_RERUN = new Set(['npm install', 'npm test']);
/** Commands that run until Ctrl-C: the relay, a listener, the browser demo. */
const LONG_RUNNING = /^(npm start|npx tts-agent listen|npm run demo:browser)\b/;
/** Bounds hangs only: a block waits for queued speech (`?wait=true`) on a machine shared with other suites. */
const BLOCK_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 60_000;

let dir: string;
let port: number;
let openai: Server;
let baseEnv: Record<string, string>;
const running: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tts-relay-readme-'));
  for (const entry of readdirSync(ROOT)) {
    if (entry === '.git' || entry === '.env' || entry === 'dist' || entry.endsWith('.wav')) continue;
    symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  port = await freePort();
  openai = await startOpenAIStandIn();
  const environment = { ...process.env } as Record<string, string>;
  for (const name of Object.keys(environment)) {
    if (/^(RELAY_|TTS_|CARTESIA_|REDIS_|HUB$|PORT$|HOST$|OPENAI_|KEY$|URL$|NODE_EXTRA_CA_CERTS$|VITEST)/.test(name)) delete environment[name];
  }
  const { port: openaiPort } = openai.address() as { port: number };
  baseEnv = {
    ...environment,
    PORT: String(port),
    HOST: '127.0.0.1',
    TTS_RELAY_URL: `http://localhost:${port}`,
    SDL_AUDIODRIVER: 'dummy',
    OPENAI_BASE_URL: `http://127.0.0.1:${openaiPort}/v1`,
    OPENAI_API_KEY: 'sk-stand-in-for-the-readme-check',
  };
  for (const terminal of [1, 2, 3]) writeFileSync(stateFile(terminal), '');
});

afterAll(async () => {
  await Promise.all(running.splice(0).map((child) => stop(child)));
  await new Promise((resolve) => openai?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('README, as a newcomer pastes it', () => {
  it('runs every command of the first screen, Speaking and Listening', async () => {
    const blocks = readmeShellBlocks(README);
    expect(blocks.filter((b) => b.section === '').length).toBeGreaterThanOrEqual(4);
    expect(blocks.some((b) => b.section === 'Speaking')).toBe(true);
    expect(blocks.some((b) => b.section === 'Listening')).toBe(true);
    let listener: Terminal2Listener | null = null;
    for (const block of blocks) {
      const where = `README line ${block.line} (terminal ${block.terminal})`;
      const commands = commandLines(withPort(block.text)).filter((command) => !NOT_RERUN.has(withoutComment(command)));
      if (block.terminal === 3 && commands.some((command) => LONG_RUNNING.test(command))) {
        for (const command of commands) {
          if (LONG_RUNNING.test(command)) await browserDemo(command, where);
          else await runBlock({ ...block, text: command }, where);
        }
        continue;
      }
      if (block.terminal === 3) {
        const { stdout } = await runBlock(block, where);
        expect(stdout, `${where} answered an error:\n${stdout}`).not.toMatch(/"error"\s*:/);
        continue;
      }
      for (const command of commands) {
        if (!LONG_RUNNING.test(command)) {
          await runBlock({ ...block, text: command }, where);
        } else if (block.terminal === 1) {
          running.push(startLong(1, command));
          await relayReady(where);
        } else if (block.section === 'Listening') {
          if (listener) await listener.stopAndCheck();
          listener = null;
          await listenOnce(command, where);
        } else {
          listener = await startListener(command, where);
        }
      }
    }
    if (listener) await listener.stopAndCheck();
    // The recordings of the Listening section are where README says.
    expect(statSync(join(dir, 'kitchen.wav')).size).toBeGreaterThan(10_000);
    expect(statSync(join(dir, 'out.wav')).size).toBeGreaterThan(10_000);
    expect(readFileSync(join(dir, '.env'), 'utf8')).toMatch(/^RELAY_ADMIN_KEY=[0-9a-f]{48}\n$/);
  }, 600_000);
});

function withPort(text: string): string {
  return text.replaceAll('localhost:8787', `localhost:${port}`);
}

function stateFile(terminal: number): string {
  return join(dir, `.readme-terminal-${terminal}.sh`);
}

/** A shell for one block (or one command) of a terminal: that terminal's variables in, and out again after. */
function shell(terminal: number, text: string, strict: boolean): ChildProcess {
  const script = `${strict ? 'set -e -o pipefail\n' : ''}. ${stateFile(terminal)}\n${text}\n${strict ? `export -p | grep -v '^declare -[a-z]*r' > ${stateFile(terminal)}\n` : ''}`;
  return spawn('bash', ['-c', script], { cwd: dir, env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

async function runBlock(block: ShellBlock, where: string): Promise<{ stdout: string; stderr: string }> {
  const text = withPort(block.text)
    .split('\n')
    .filter((line) => !NOT_RERUN.has(withoutComment(line)))
    .join('\n');
  const child = shell(block.terminal, text, true);
  const output = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const { stdout, stderr } = output();
  expect(code, `${where} failed (exit ${code}):\n${text}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`).toBe(0);
  return { stdout, stderr };
}

function startLong(terminal: number, command: string): ChildProcess {
  return shell(terminal, command, false);
}

function collect(child: ChildProcess): () => { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return () => ({ stdout, stderr });
}

async function relayReady(where: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${where}: the relay did not answer /healthz within ${START_TIMEOUT_MS} ms`);
}

interface Terminal2Listener {
  stopAndCheck(): Promise<void>;
}

/** Starts a listener and waits until it is connected; stopping it (Ctrl-C) must end it cleanly. */
async function startListener(command: string, where: string): Promise<Terminal2Listener> {
  const child = startLong(2, command);
  running.push(child);
  const output = collect(child);
  await until(() => /connected to kitchen/.test(output().stderr), `${where}: "${command}" to connect`, () => output().stderr);
  return {
    async stopAndCheck() {
      await stop(child);
      running.splice(running.indexOf(child), 1);
      const { stderr } = output();
      expect(stderr, `${where}: the listener heard nothing`).toMatch(/utterance \d+ done/);
      expectStoppedCleanly(stderr, where);
    },
  };
}

/** `npm run demo:browser`: its player page answers at the address it prints; Ctrl-C ends it. */
async function browserDemo(command: string, where: string): Promise<void> {
  const child = startLong(3, command);
  running.push(child);
  const output = collect(child);
  await until(() => /player\s+http\S+/.test(output().stdout), `${where}: "${command}" to print its address`, () => output().stdout + output().stderr);
  const address = /player\s+(http\S+)/.exec(output().stdout)![1]!;
  const page = await fetch(new URL(address).origin + '/');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  await stop(child);
  running.splice(running.indexOf(child), 1);
}

/** A Listening example: connect, hear one utterance spoken for it, stop with Ctrl-C. */
async function listenOnce(command: string, where: string): Promise<void> {
  const child = startLong(2, command);
  running.push(child);
  const output = collect(child);
  await until(() => /connected to kitchen/.test(output().stderr), `${where}: "${command}" to connect`, () => output().stderr);
  const key = /^RELAY_ADMIN_KEY=(\S+)/m.exec(readFileSync(join(dir, '.env'), 'utf8'))![1]!;
  const spoken = await fetch(`http://127.0.0.1:${port}/v1/streams/kitchen/speak?wait=true`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: 'Spoken for a README listener.' });
  expect(spoken.status).toBe(200);
  await until(() => /utterance \d+ done/.test(output().stderr), `${where}: "${command}" to hear the utterance`, () => output().stderr);
  await stop(child);
  running.splice(running.indexOf(child), 1);
  expectStoppedCleanly(output().stderr, where);
}

/**
 * The agent's own report of a Ctrl-C: its summary line, no failure. (npx re-raises the SIGINT after the agent
 * exits 0, so the exit status a shell shows is 130 either way.)
 */
function expectStoppedCleanly(stderr: string, where: string): void {
  expect(stderr, `${where}: the listener did not stop cleanly:\n${stderr.slice(-2000)}`).toMatch(/stopped: \d+ utterances?, [\d.]+ s of audio/);
  expect(stderr).not.toMatch(/tts-agent: (unexpected failure|error)/);
}

/** Ctrl-C: SIGINT to the terminal's foreground process group; SIGKILL if it does not end. */
async function stop(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    process.kill(-child.pid!, 'SIGINT');
  } catch {
    // Already gone.
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, 15_000);
  const [code, signal] = await exited;
  clearTimeout(timer);
  return { code, signal };
}

async function until(check: () => boolean, what: string, context: () => string, ms = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}:\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
}

/** OpenAI's streaming chat completions, as far as README's example uses them: SSE chunks, then [DONE]. */
function startOpenAIStandIn(): Promise<Server> {
  const words = 'Hello there! This reply streams from a stand-in model, a few words at a time.'.split(' ');
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions' || req.headers.authorization !== `Bearer ${baseEnv.OPENAI_API_KEY}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"stand-in: wrong route or key"}}');
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    const timer = setInterval(() => {
      if (i < words.length) {
        res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: `${words[i++]} ` } }] })}\n\n`);
        return;
      }
      clearInterval(timer);
      res.end('data: [DONE]\n\n');
    }, 50);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
