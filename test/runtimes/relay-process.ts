/** Starts the relay as a child process under Bun, Deno or Node, the way an operator would, and reads its JSON logs. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUN = `${ROOT}node_modules/.bin/bun`;
export const DENO = `${ROOT}node_modules/.bin/deno`;

export const RUNTIMES = ['bun', 'deno', 'node'] as const;
export type Runtime = (typeof RUNTIMES)[number];

const DENO_PERMISSIONS = ['--allow-net', '--allow-env', '--allow-read'];
/** Deno prints no update notice and asks nothing in a test. */
const DENO_ENV = { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' };
/** Covers a cold Deno start (type stripping, npm resolution) on a busy two-core machine. */
const START_TIMEOUT_MS = 20_000;

/** The command that starts the relay on `runtime`: what README documents. */
export function relayCommand(runtime: Runtime | 'deno-serve', port: number): string[] {
  switch (runtime) {
    case 'bun':
      return [BUN, 'worker/runtime/bun.ts'];
    case 'deno':
      return [DENO, 'run', '--config', 'worker/deno.json', ...DENO_PERMISSIONS, 'worker/runtime/deno.ts'];
    case 'deno-serve':
      return [DENO, 'serve', '--config', 'worker/deno.json', ...DENO_PERMISSIONS, '--host', '127.0.0.1', '--port', String(port), 'worker/runtime/deno-serve.ts'];
    case 'node':
      return [process.execPath, 'worker/bin.mjs'];
  }
}

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface RelayProcess {
  runtime: string;
  url: string;
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** Everything on stderr that is not a JSON log line. */
  stderrText(): string;
  /** Resolves when the process has exited, with the time from `signal()` (or start) to exit. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  signal(name: NodeJS.Signals): number;
  kill(): Promise<void>;
}

/** Starts a relay process and resolves once it logs `relay listening`. Port 0 picks a free port. */
export async function startRelayProcess(
  runtime: Runtime | 'deno-serve',
  env: Record<string, string> = {},
  options: { port?: number; cwd?: string } = {},
): Promise<RelayProcess> {
  const port = options.port ?? (runtime === 'deno-serve' ? await freePort() : 0);
  const [command, ...relative] = relayCommand(runtime, port);
  // From another directory, the checkout's files are named by their full paths.
  const args = options.cwd ? relative.map((arg) => (arg.startsWith('worker/') ? `${ROOT}${arg}` : arg)) : relative;
  const child = spawn(command!, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...DENO_ENV, TTS_PROVIDER: 'espeak', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let other = '';
  let pending = '';
  const waiters = new Set<() => void>();
  const onLine = (line: string) => {
    if (line.startsWith('{')) {
      try {
        logs.push(JSON.parse(line) as LogLine);
        for (const wake of waiters) wake();
        return;
      } catch {
        // Not a log line after all: keep it as text.
      }
    }
    other += `${line}\n`;
  };
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (other += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, at: performance.now() }));

  const listening = await new Promise<LogLine>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${runtime} relay did not start within ${START_TIMEOUT_MS} ms:\n${other}`)), START_TIMEOUT_MS);
    const check = () => {
      const line = logs.find((l) => l.msg === 'relay listening');
      if (line) finish(null, line);
    };
    const finish = (error: Error | null, line?: LogLine) => {
      clearTimeout(timer);
      waiters.delete(check);
      if (error) reject(error);
      else resolve(line!);
    };
    waiters.add(check);
    void exited.then(({ code }) => finish(new Error(`${runtime} relay exited with ${code} before listening:\n${other}`)));
    check();
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });

  return {
    runtime: String(listening.runtime ?? runtime),
    url: String(listening.url),
    child,
    logs,
    stderrText: () => other,
    exited,
    signal(name) {
      child.kill(name);
      return performance.now();
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs a relay command to completion (for start-up failures); resolves with its exit code and output. */
export async function runRelayToExit(runtime: Runtime, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const [command, ...args] = relayCommand(runtime, 0);
  const child = spawn(command!, args, { cwd: ROOT, env: { ...process.env, ...DENO_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number | null, stderr };
}

/** A port that was free a moment ago (for a relay that must come back on the same address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** The runtime's own version line, for the record. */
export async function runtimeVersion(runtime: Runtime): Promise<string> {
  if (runtime === 'node') return `node ${process.versions.node}`;
  const child = spawn(runtime === 'bun' ? BUN : DENO, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await once(child, 'exit');
  return runtime === 'bun' ? `bun ${out.trim()}` : `deno ${/deno (\S+)/.exec(out)?.[1] ?? 'unknown'}`;
}
