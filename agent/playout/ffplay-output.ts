/**
 * One long-lived ffplay fed f32le at the stream's rate, with `-stats` so its audio clock says what is heard.
 * Killing it is the only instant flush (a cut): `restart()` kills and spawns a new one; output samples are
 * numbered afresh, and its clock measured afresh, while the playout timeline carries on.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ffplayArgs } from '../../shared/ffplay.ts';
import { AgentError } from '../agent-error.ts';
import { localClock } from '../clock-sync.ts';
import { WriteQueue } from '../sinks/write-queue.ts';
import { FfplayStatsClock, parseStatsClock } from './output-clock.ts';
import type { Output } from './scheduler.ts';

/** ffplay's start-up, spawn to first sound, before any reading (measured here: ~100-120 ms). */
const DEFAULT_STARTUP_MS = 120;

export interface FfplayOutputOptions {
  path: string;
  env: Record<string, string | undefined>;
  rate: number;
  onFailure(error: unknown): void;
}

export class FfplayOutput implements Output {
  private child: ChildProcessByStdio<Writable, null, Readable> | null = null;
  private queue: WriteQueue | null = null;
  private exited: Promise<void> = Promise.resolve();
  private startupMs = DEFAULT_STARTUP_MS;
  private spawnedAt = 0;
  clock = new FfplayStatsClock(0);
  restarts = 0;
  private stderrTail = '';

  constructor(private readonly options: FfplayOutputOptions) {
    this.spawn();
  }

  write(samples: Float32Array): void {
    this.queue?.push(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength).slice());
  }

  /** Kills what ffplay holds (heard at once: silence) and starts a fresh one. */
  async restart(): Promise<void> {
    this.restarts++;
    const old = this.kill();
    this.spawn();
    await old;
  }

  /** Closes its input once written out; `-autoexit` ends it when the last sample has played. */
  async playOut(boundMs: number): Promise<void> {
    const child = this.child;
    if (child === null) return;
    await this.queue?.drained();
    this.child = null;
    child.stdin.end();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(() => (child.kill('SIGKILL'), resolve()), boundMs)));
    await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
  }

  kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    this.queue?.close();
    child?.kill('SIGKILL');
    return this.exited;
  }

  private spawn(): void {
    const { path, env, rate } = this.options;
    const args = ffplayArgs({ encoding: 'pcm_f32le', sampleRate: rate as never }, { autoexit: true, stats: true });
    const child = spawn(path, args, { stdio: ['pipe', 'ignore', 'pipe'], env, detached: true });
    this.child = child;
    this.spawnedAt = localClock();
    this.clock = new FfplayStatsClock(this.spawnedAt + this.startupMs);
    this.queue = new WriteQueue(child.stdin);
    child.stdin.on('error', () => this.queue?.close());
    child.stderr.setEncoding('utf8');
    const clock = this.clock;
    child.stderr.on('data', (text: string) => this.stderr(text, clock));
    this.exited = new Promise((resolve) => {
      child.on('error', (error) => (this.unexpected(child, error.message), resolve()));
      child.on('close', (code, signal) => (this.unexpected(child, signal ?? `exit code ${code}`), resolve()));
    });
  }

  private stderr(text: string, clock: FfplayStatsClock): void {
    const at = localClock();
    for (const line of text.split(/[\r\n]/)) {
      const seconds = parseStatsClock(line);
      if (seconds !== null) {
        if (!clock.measured() && seconds > 0) this.startupMs = at - seconds * 1000 - this.spawnedAt;
        clock.reading(seconds, at);
      } else if (line.trim() !== '' && !/^\s*nan\b/.test(line)) {
        this.stderrTail = line.trim();
      }
    }
  }

  private unexpected(child: ChildProcessByStdio<Writable, null, Readable>, how: string): void {
    if (this.child !== child) return;
    this.child = null;
    this.queue?.close();
    const said = this.stderrTail === '' ? '' : `: ${this.stderrTail}`;
    this.options.onFailure(
      new AgentError('ffplay_failed', `ffplay exited early (${how}${said}): check the audio device (SDL_AUDIODRIVER) or pass --out file.wav / --player stdout`),
    );
  }
}
