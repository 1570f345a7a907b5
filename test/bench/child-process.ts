/** Starts a bench child (relay, bare broadcast server, listener swarm, emulator) and talks to it over stdio. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BUN_RELAY_ENV } from '../../worker/runtime/bun-process-env.ts';
import type { Usage } from './control.ts';

export type Runtime = 'node' | 'bun';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUN = fileURLToPath(new URL('../../node_modules/bun/bin/bun.exe', import.meta.url));
// A child that has not announced itself by then hangs: a hang bound only (a relay's start took over 30 s at load 24).
const START_TIMEOUT_MS = 120_000;
const RELAY_CHILD = 'test/bench/relay-child.ts';

export interface BenchChild<Info = Record<string, unknown>> {
  readonly pid: number;
  readonly runtime: Runtime;
  readonly info: Info;
  call<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  usage(): Promise<Usage>;
  /** Collects garbage in the child, then reads its usage. */
  settledUsage(): Promise<Usage>;
  /** What the child wrote to stderr, for error reports. */
  stderr(): string;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  runtime?: Runtime;
  env?: Record<string, string | undefined>;
  args?: string[];
  /** Extra runtime flags, e.g. --cpu-prof to profile a child. */
  runtimeFlags?: string[];
}

/** Runs `entry` (a path relative to the repository root) in its own process and waits for its `ready` line. */
export async function spawnChild<Info = Record<string, unknown>>(entry: string, options: SpawnOptions = {}): Promise<BenchChild<Info>> {
  const runtime = options.runtime ?? 'node';
  const [command, args] =
    runtime === 'bun'
      ? [BUN, [...(options.runtimeFlags ?? []), entry, ...(options.args ?? [])]]
      : [process.execPath, ['--expose-gc', ...(options.runtimeFlags ?? []), '--import', 'tsx', entry, ...(options.args ?? [])]];
  // A Bun relay starts as `npm start` starts it.
  const relayEnv = runtime === 'bun' && entry === RELAY_CHILD ? BUN_RELAY_ENV : {};
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...relayEnv, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return attach<Info>(child, runtime, entry);
}

function attach<Info>(child: ChildProcess, runtime: Runtime, entry: string): Promise<BenchChild<Info>> {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return new Promise((resolve, reject) => {
    const startTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} (${runtime}) did not start within ${START_TIMEOUT_MS} ms\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      exited = true;
      clearTimeout(startTimer);
      const error = new Error(`${entry} (${runtime}) exited (${signal ?? code})\n${stderr}`);
      for (const { reject: fail } of pending.values()) fail(error);
      pending.clear();
      reject(error);
    });
    child.once('error', (error) => reject(error));

    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let message: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: string };
        try {
          message = JSON.parse(line);
        } catch {
          continue; // A stray line from a library; the protocol's lines are all JSON.
        }
        if (message.ready) {
          clearTimeout(startTimer);
          resolve(handle(message as Info));
          continue;
        }
        const waiter = message.id === undefined ? undefined : pending.get(message.id);
        if (!waiter) continue;
        pending.delete(message.id!);
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`${entry}: ${message.error}`));
      }
    });

    const handle = (info: Info): BenchChild<Info> => {
      const call = <T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> => {
        if (exited) return Promise.reject(new Error(`${entry} (${runtime}) is not running\n${stderr}`));
        const id = ++nextId;
        return new Promise<T>((resolveCall, rejectCall) => {
          const timer = setTimeout(() => {
            pending.delete(id);
            rejectCall(new Error(`${entry}: ${cmd} did not answer within ${timeoutMs} ms`));
          }, timeoutMs);
          pending.set(id, {
            resolve: (value) => {
              clearTimeout(timer);
              resolveCall(value as T);
            },
            reject: (error) => {
              clearTimeout(timer);
              rejectCall(error);
            },
          });
          child.stdin!.write(`${JSON.stringify({ id, cmd, args })}\n`);
        });
      };
      return {
        pid: child.pid!,
        runtime,
        info,
        call,
        usage: () => call<Usage>('usage'),
        settledUsage: () => call<Usage>('gc'),
        stderr: () => stderr,
        async stop() {
          if (exited) return;
          child.stdin!.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exitedPromise;
          clearTimeout(timer);
        },
      };
    };
  });
}
