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
import { FfplayStatsClock, parseStatsLine } from './output-clock.ts';
import { TICK_MS, type Output } from './scheduler.ts';

/** ffplay's start-up, spawn to first sound, before any reading (measured here: ~100-120 ms). */
const DEFAULT_STARTUP_MS = 120;
/** f32le: the bytes of a sample. */
const SAMPLE_BYTES = 4;
/** ffplay's raw demuxer reads packets of 1024 samples. */
const PACKET_SAMPLES = 1024;

/**
 * What ffplay must hold not to run dry: SDL asks for a buffer of max(512, 2^⌊log2(rate/30)⌋·2) samples per
 * callback and plays it two buffers later (ffplay's own audio clock assumes as much), so three buffers and
 * two ticks of slack.
 */
export function ffplayLeadMs(rate: number): number {
  const samples = Math.max(512, 2 << Math.floor(Math.log2(rate / 30)));
  return (3 * samples * 1000) / rate + 2 * TICK_MS;
}

/** The most ffplay's packet queue holds while it plays what it is fed just ahead: the lead, a packet, the line's rounding. */
function queueLimitBytes(rate: number): number {
  return ((ffplayLeadMs(rate) * rate) / 1000 + PACKET_SAMPLES) * SAMPLE_BYTES + 1024;
}

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
  private startupMeasured = false;

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
    this.startupMeasured = false;
    this.clock = new FfplayStatsClock(this.spawnedAt + this.startupMs, queueLimitBytes(rate));
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
      const stats = parseStatsLine(line);
      if (stats !== null) {
        clock.reading(stats.clock, at, stats.queuedBytes);
        if (clock.measured() && stats.clock > 0 && !this.startupMeasured) {
          this.startupMeasured = true;
          this.startupMs = at - stats.clock * 1000 - this.spawnedAt;
        }
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
