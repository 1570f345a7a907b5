/** The machine a run was taken on: cores, CPU model, runtimes, and how busy it was. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  bun: string | null;
  /** 1-minute load average when the run started (above the core count: other work was running). */
  loadAverageAtStart: number;
}

const BUN = fileURLToPath(new URL('../../node_modules/bun/bin/bun.exe', import.meta.url));

export function bunVersion(): string | null {
  try {
    return execFileSync(BUN, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

export function describeMachine(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // Not Linux: the os module's model name will do.
  }
  return {
    cores: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    bun: bunVersion(),
    loadAverageAtStart: os.loadavg()[0]!,
  };
}
