/** Running the real FFmpeg and sox binaries from the audio suites. */
import { spawn, spawnSync } from 'node:child_process';

/** Whether a command is on PATH (so a test can skip with a reason when it is not). */
export function hasCommand(name: string): boolean {
  return spawnSync(name, name === 'sox' ? ['--version'] : ['-version'], { stdio: 'ignore' }).status === 0;
}

/** Runs a tool to completion with `input` on stdin; throws with its stderr when it fails. */
export function runTool(command: string, args: string[], input?: Uint8Array): { stdout: Uint8Array; stderr: string } {
  const result = spawnSync(command, args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  const stderr = result.stderr.toString();
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status}: ${stderr}`);
  return { stdout: new Uint8Array(result.stdout.buffer, result.stdout.byteOffset, result.stdout.byteLength), stderr };
}

/** Runs a tool with `input` on stdin, killing it after `timeoutMs`; resolves with its exit code and stderr. */
export function runToolAsync(
  command: string,
  args: string[],
  input: Uint8Array,
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** A Float32Array over bytes from a tool, copied so it is aligned. */
export function floatsOf(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer, 0, bytes.byteLength >> 2);
}
