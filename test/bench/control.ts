/**
 * The line protocol between the bench and its child processes: commands as JSON lines on the child's stdin,
 * answers and the `ready` announcement as JSON lines on its stdout. Plain stdio, so Node and Bun children
 * speak it alike (no IPC channel that only one runtime has).
 */
import { readFileSync } from 'node:fs';

export interface Usage {
  /** Microseconds of CPU the process has used since it started (all threads, user + system). */
  cpuUs: number;
  /** The kernel's part of it (system calls: socket writes and reads). */
  systemUs: number;
  rssBytes: number;
  /**
   * The anonymous part of RSS (Linux's RssAnon: heaps, stacks, buffers), without the file-backed pages of the runtime's
   * binary and libraries, which come and go with the page cache, i.e. with what other processes on the machine do.
   * RSS where the platform does not say.
   */
  anonRssBytes: number;
  heapUsedBytes: number;
  /**
   * Microseconds the main thread has run (Linux's schedstat, ns precision; NaN elsewhere): the rest of `cpuUs` is the
   * runtime's helper threads (concurrent marking and sweeping, compilation) and the I/O pool.
   */
  mainThreadUs: number;
}

type Handler = (args: Record<string, unknown>) => unknown;

interface BunGlobal {
  gc(force: boolean): void;
  /** Shrinks JSC's heap and hands the allocator's free pages back to the system. */
  shrink(): void;
}

/** This process' CPU time and memory, read the same way on Node and Bun. */
export function readUsage(): Usage {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpuUs: cpu.user + cpu.system, systemUs: cpu.system, rssBytes: memory.rss, anonRssBytes: readAnonRss() ?? memory.rss, heapUsedBytes: memory.heapUsed, mainThreadUs: readMainThreadUs() };
}

function readMainThreadUs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return Number.NaN;
  }
}

function readAnonRss(): number | null {
  try {
    const kib = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

/**
 * A full garbage collection that also gives back what the collector keeps for allocation bursts, so memory figures
 * read what the process holds. Node: V8's low-memory collection (the inspector's HeapProfiler.collectGarbage); a plain
 * `gc()` keeps the young generation at the size the last burst grew it to (up to 32 MiB, a handshake burst's garbage,
 * not what the sockets hold), which V8 itself only gives back 10-30 s later. Bun: a full collection, then Bun.shrink().
 */
export async function collectGarbage(): Promise<void> {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (bun) {
    bun.gc(true);
    bun.shrink();
    return;
  }
  if (!inspector) {
    const { Session } = await import('node:inspector/promises');
    inspector = new Session();
    inspector.connect();
  }
  await inspector.post('HeapProfiler.collectGarbage');
}

/** One session for the process' life, opened at the first collection: a reading allocates nothing new for it. */
let inspector: import('node:inspector/promises').Session | null = null;

export function runtimeName(): 'bun' | 'node' {
  return (globalThis as { Bun?: unknown }).Bun ? 'bun' : 'node';
}

/** Announces readiness with `info`, then answers commands until stdin closes (the parent is gone: exit). */
export function serveControl(info: Record<string, unknown>, handlers: Record<string, Handler>): void {
  const all: Record<string, Handler> = {
    usage: () => readUsage(),
    gc: async () => {
      await collectGarbage();
      return readUsage();
    },
    /** Node only: a CPU profile of the next `ms` milliseconds (sampled every `intervalUs`, default 1000), written to `file`, for finding where time goes. */
    async profile(args) {
      const { Session } = await import('node:inspector/promises');
      const { writeFileSync } = await import('node:fs');
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      if (args.intervalUs !== undefined) await session.post('Profiler.setSamplingInterval', { interval: Number(args.intervalUs) });
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
