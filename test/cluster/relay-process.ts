/** Runs the relay's real Node entry (worker/bin.mjs) as a child process on a free port, as one cluster instance. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_KEY } from '../support/relay.ts';

const BIN = fileURLToPath(new URL('../../worker/bin.mjs', import.meta.url));

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  /** Log lines so far (JSON), for assertions and for failures' context. */
  logs: string[];
  request(path: string, init?: RequestInit): Promise<Response>;
  speak(stream: string, text: string, query?: string): Promise<Response>;
  /** SIGTERM, waits for the exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: the instance dies mid-work without a word. */
  kill(): Promise<void>;
}

export function relayEnv(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    HUB: 'redis',
    REDIS_URL: redisUrl,
    TTS_PROVIDER: 'espeak',
    RELAY_ADMIN_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: 'info',
    RELAY_DRAIN_MS: '0',
    ...extra,
  };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How each runtime starts the relay (the commands README documents). */
export const RUNTIME_COMMANDS = {
  node: [process.execPath, BIN],
  bun: [`${ROOT}node_modules/.bin/bun`, 'worker/runtime/bun.ts'],
  deno: [`${ROOT}node_modules/.bin/deno`, 'run', '--config', 'worker/deno.json', '--allow-net', '--allow-env', '--allow-read', 'worker/runtime/deno.ts'],
} as const;

/** Starts the relay and resolves once it logs where it listens; rejects with its output if it exits first. */
export async function startRelayProcess(env: Record<string, string>, timeoutMs = 60_000, runtime: keyof typeof RUNTIME_COMMANDS = 'node'): Promise<RelayProcess> {
  const [command, ...args] = RUNTIME_COMMANDS[runtime];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let pending = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        if (line.includes('"relay listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      }
    });
    child.stdout!.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before listening:\n${[...logs, pending].join('\n')}`));
    });
  });
  const request = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${TEST_ADMIN_KEY}`);
    return fetch(new URL(path, url), { ...init, headers });
  };
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    url,
    child,
    logs,
    request,
    speak: (stream, text, query) =>
      request(`/v1/streams/${stream}/speak${query ? `?${query}` : ''}`, { method: 'POST', body: text, headers: { 'content-type': 'text/plain' } }),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs the relay entry expecting it to fail at start; resolves with its exit code and output. */
export async function failedStart(env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [BIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
