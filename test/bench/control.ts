/**
 * The line protocol between the bench and its child processes: commands as JSON lines on the child's stdin,
 * answers and the `ready` announcement as JSON lines on its stdout. Plain stdio, so Node and Bun children
 * speak it alike (no IPC channel that only one runtime has).
 */

export interface Usage {
  /** Microseconds of CPU the process has used since it started (all threads, user + system). */
  cpuUs: number;
  /** The kernel's part of it (system calls: socket writes and reads). */
  systemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

type Handler = (args: Record<string, unknown>) => unknown;

interface BunGlobal {
  gc(force: boolean): void;
}

/** This process' CPU time and memory, read the same way on Node and Bun. */
export function readUsage(): Usage {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpuUs: cpu.user + cpu.system, systemUs: cpu.system, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed };
}

/** Runs a full garbage collection (Node needs --expose-gc), so memory figures compare like with like. */
export function collectGarbage(): void {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun) bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
}

export function runtimeName(): 'bun' | 'node' {
  return (globalThis as { Bun?: unknown }).Bun ? 'bun' : 'node';
}

/** Announces readiness with `info`, then answers commands until stdin closes (the parent is gone: exit). */
export function serveControl(info: Record<string, unknown>, handlers: Record<string, Handler>): void {
  const all: Record<string, Handler> = {
    usage: () => readUsage(),
    gc: () => {
      collectGarbage();
      return readUsage();
    },
    /** Node only: a CPU profile of the next `ms` milliseconds, written to `file`, for finding where time goes. */
    async profile(args) {
      const { Session } = await import('node:inspector/promises');
      const { writeFileSync } = await import('node:fs');
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      await new Promise((resolve) => setTimeout(resolve, Number(args.ms)));
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(String(args.file), JSON.stringify(profile));
      session.disconnect();
      return { file: args.file };
    },
    ...handlers,
  };
  const write = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() === '') continue;
      const { id, cmd, args } = JSON.parse(line) as { id: number; cmd: string; args?: Record<string, unknown> };
      const handler = all[cmd];
      Promise.resolve()
        .then(() => {
          if (!handler) throw new Error(`unknown command ${cmd}`);
          return handler(args ?? {});
        })
        .then(
          (result) => write({ id, ok: true, result: result ?? null }),
          (error: unknown) => write({ id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
        );
    }
  });
  process.stdin.on('end', () => process.exit(0));
  write({ ready: true, pid: process.pid, runtime: runtimeName(), ...info });
}
