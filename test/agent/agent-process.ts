/** Runs the real `agent/bin.mjs` as a child process and watches what it says, for the agent's tests. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const AGENT_BIN = fileURLToPath(new URL('../../agent/bin.mjs', import.meta.url));

export interface AgentProcess {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  stdout(): Buffer;
  stderr(): string;
  /** Resolves with the first stderr line matching `pattern` (already printed or future); rejects after `ms`. */
  waitForLine(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves with how many lines matching `pattern` stderr holds once there are at least `count`. */
  waitForLines(pattern: RegExp, count: number, ms?: number): Promise<string[]>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<AgentProcess>();

/**
 * Starts `tts-agent <args>`. The environment is the test's, minus TTS_RELAY_* and RELAY_ADMIN_KEY (tests pass what they mean),
 * with SDL_AUDIODRIVER=dummy so ffplay plays without a sound card.
 */
export function spawnAgent(args: string[], env: Record<string, string | undefined> = {}): AgentProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env, SDL_AUDIODRIVER: 'dummy', ...env };
  for (const name of ['TTS_RELAY_URL', 'TTS_RELAY_TOKEN', 'RELAY_ADMIN_KEY', 'FFPLAY_PATH', 'NODE_EXTRA_CA_CERTS'] as const) if (!(name in env)) delete childEnv[name];
  const child = spawn(process.execPath, [AGENT_BIN, ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdoutChunks: Buffer[] = [];
  let stderrText = '';
  const watchers = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => stdoutChunks.push(chunk));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderrText += text;
    for (const watch of watchers) watch();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(agent);
      for (const watch of watchers) watch();
      resolve({ code, signal });
    });
  });

  const lines = (pattern: RegExp): string[] => stderrText.split('\n').filter((line) => pattern.test(line));
  const waitForLines = (pattern: RegExp, count: number, ms = 15_000): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines(pattern);
        if (found.length >= count) {
          clearTimeout(timer);
          watchers.delete(check);
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          watchers.delete(check);
          reject(new Error(`agent exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; stderr:\n${stderrText}`));
        }
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`agent did not print ${pattern} within ${ms} ms; stderr:\n${stderrText}`));
      }, ms);
      watchers.add(check);
      check();
    });

  const agent: AgentProcess = {
    child,
    stdout: () => Buffer.concat(stdoutChunks),
    stderr: () => stderrText,
    waitForLine: async (pattern, ms) => (await waitForLines(pattern, 1, ms))[0]!,
    waitForLines,
    exited,
  };
  running.add(agent);
  return agent;
}

/** Stops every agent a test left running (SIGTERM, so it kills its ffplay; SIGKILL if it lingers); for afterEach. */
export async function stopAgents(): Promise<void> {
  const left = [...running];
  for (const agent of left) agent.child.kill('SIGTERM');
  await Promise.all(
    left.map(async (agent) => {
      const timer = setTimeout(() => agent.child.kill('SIGKILL'), 3000);
      await agent.exited;
      clearTimeout(timer);
    }),
  );
}

/** No stack frames: the agent reports failures as one line, not a trace. */
export const STACK_FRAME = /^\s+at .+\(?.*:\d+:\d+\)?$/m;
