/** Plays audio through one long-lived ffplay, killed and respawned when an utterance is cancelled. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { secondsOf } from '../../shared/audio-format.ts';
import { ffplayArgs } from '../../shared/ffplay.ts';
import type { AudioFrame, UtteranceEnd, UtteranceStart, WireFormat } from '../../shared/protocol.ts';
import { AgentError } from '../agent-error.ts';
import type { AudioSink, SinkFailure } from './sink.ts';
import { WriteQueue } from './write-queue.ts';

export const DEFAULT_FFPLAY_PATH = 'ffplay';
const FIX = 'install FFmpeg or pass --out file.wav / --player stdout';
/** ffplay's own buffering and SDL's device buffer, on top of the audio still queued, before finish() gives up. */
const PLAYOUT_SLACK_MS = 3000;
const STDERR_TAIL_LINES = 8;

export interface FfplaySinkOptions {
  path?: string;
  env?: Record<string, string | undefined>;
  onFailure: SinkFailure;
  /** Told when ffplay is restarted, and why. */
  onRestart?: (reason: string) => void;
}

/** Fails fast, before any connection, when ffplay cannot be started at all. */
export async function checkFfplay(path: string = DEFAULT_FFPLAY_PATH, env?: Record<string, string | undefined>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(path, ['-version'], { stdio: 'ignore', env: env ?? process.env });
    child.on('error', (error) => reject(spawnFailure(path, error)));
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new AgentError('ffplay_failed', `ffplay at ${path} failed to run (exit code ${code ?? 'signal'}): ${FIX}`));
    });
  });
}

function spawnFailure(path: string, error: Error): AgentError {
  const code = (error as NodeJS.ErrnoException).code;
  const where = path === DEFAULT_FFPLAY_PATH ? '' : ` at ${path} (FFPLAY_PATH)`;
  if (code === 'ENOENT') return new AgentError('ffplay_not_found', `ffplay not found${where}: ${FIX}`, { cause: error });
  if (code === 'EACCES') return new AgentError('ffplay_not_found', `ffplay${where} is not executable: ${FIX}`, { cause: error });
  return new AgentError('ffplay_failed', `ffplay${where} could not start (${error.message}): ${FIX}`, { cause: error });
}

/** One ffplay process and the queue feeding its stdin. */
class Player {
  readonly process: ChildProcessByStdio<Writable, null, Readable>;
  readonly queue: WriteQueue;
  readonly exited: Promise<void>;
  readonly format: AudioFormat;
  /** Set once we kill it or close its input: any other exit is a failure. */
  expectingExit = false;
  #stderr: string[] = [];
  #audioSeconds = 0;
  #firstWriteAt: number | null = null;

  constructor(path: string, format: AudioFormat, env: Record<string, string | undefined>, onUnexpectedExit: (error: AgentError) => void) {
    this.format = format;
    // -autoexit: a graceful finish closes stdin and waits for the last sample to play, instead of guessing.
    const args = ffplayArgs(format, { autoexit: true });
    // Its own process group: Ctrl-C in a terminal reaches the agent, which stops ffplay itself, instead of
    // killing ffplay first (which the agent would report as "ffplay exited early"). With -autoexit and its
    // stdin a pipe from the agent, ffplay still ends when the agent does.
    this.process = spawn(path, args, { stdio: ['pipe', 'ignore', 'pipe'], env, detached: true });
    this.queue = new WriteQueue(this.process.stdin);
    // EPIPE after a kill is expected; the exit handler reports what matters.
    this.process.stdin.on('error', () => this.queue.close());
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (text: string) => {
      for (const line of text.split('\n')) if (line.trim() !== '') this.#stderr.push(line.trim());
      this.#stderr.splice(0, Math.max(0, this.#stderr.length - STDERR_TAIL_LINES));
    });
    this.exited = new Promise((resolve) => {
      this.process.on('error', (error) => {
        this.queue.close();
        if (!this.expectingExit) onUnexpectedExit(spawnFailure(path, error));
        this.expectingExit = true;
        resolve();
      });
      this.process.on('close', (code, signal) => {
        this.queue.close();
        if (!this.expectingExit) {
          this.expectingExit = true;
          // "audio open failed" says more than the "Failed to open file 'pipe:'" that follows it.
          const said = this.#stderr.findLast((line) => /audio/i.test(line)) ?? this.#stderr.at(-1);
          const how = signal === null ? `exit code ${code ?? '?'}` : signal;
          onUnexpectedExit(
            new AgentError(
              'ffplay_failed',
              `ffplay exited early (${how}${said === undefined ? '' : `: ${said}`}): check the audio device (SDL_AUDIODRIVER) or pass --out file.wav / --player stdout`,
            ),
          );
        }
        resolve();
      });
    });
  }

  write(payload: Uint8Array): void {
    this.#firstWriteAt ??= Date.now();
    this.#audioSeconds += secondsOf(this.format, payload.byteLength);
    this.queue.push(payload);
  }

  /** Milliseconds until everything written so far has been heard, assuming playback began at the first write. */
  remainingMs(): number {
    if (this.#firstWriteAt === null) return 0;
    return Math.max(0, this.#firstWriteAt + this.#audioSeconds * 1000 - Date.now());
  }

  kill(): Promise<void> {
    this.expectingExit = true;
    this.queue.close();
    this.process.kill('SIGKILL');
    return this.exited;
  }

  /** Closes stdin once the queue is out; `-autoexit` makes ffplay quit when the last sample has played. */
  async playOut(): Promise<void> {
    await this.queue.drained();
    this.expectingExit = true;
    this.process.stdin.end();
    const deadline = this.remainingMs() + PLAYOUT_SLACK_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadline);
    });
    const outcome = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.kill();
  }
}

export class FfplaySink implements AudioSink {
  readonly #path: string;
  readonly #env: Record<string, string | undefined>;
  readonly #onFailure: SinkFailure;
  readonly #onRestart: (reason: string) => void;
  #player: Player | null = null;
  #format: AudioFormat | null = null;
  #stopped = false;
  restarts = 0;

  constructor(options: FfplaySinkOptions) {
    this.#path = options.path ?? DEFAULT_FFPLAY_PATH;
    this.#env = options.env ?? process.env;
    this.#onFailure = options.onFailure;
    this.#onRestart = options.onRestart ?? (() => {});
  }

  setFormat(wire: WireFormat): void {
    const format: AudioFormat = { encoding: wire.encoding, sampleRate: wire.sample_rate };
    const same = this.#format !== null && this.#format.encoding === format.encoding && this.#format.sampleRate === format.sampleRate;
    this.#format = format;
    if (same && this.#player !== null && !this.#player.expectingExit) return;
    if (this.#player !== null) this.#restart(`format changed to ${format.encoding} ${format.sampleRate} Hz`);
    else this.#spawn();
  }

  utteranceStart(_message: UtteranceStart): void {}

  write(frame: AudioFrame): void {
    this.#player?.write(frame.payload);
  }

  utteranceEnd(message: UtteranceEnd): void {
    if (message.reason !== 'cancelled') return;
    this.#restart(`utterance ${message.utterance} cancelled`);
  }

  disconnected(): void {}

  async finish(): Promise<void> {
    this.#stopped = true;
    const player = this.#player;
    this.#player = null;
    await player?.playOut();
  }

  async abort(): Promise<void> {
    this.#stopped = true;
    const player = this.#player;
    this.#player = null;
    await player?.kill();
  }

  #restart(reason: string): void {
    const old = this.#player;
    this.#player = null;
    if (old !== null) {
      old.kill().catch(this.#onFailure);
    }
    this.restarts++;
    this.#spawn();
    this.#onRestart(reason);
  }

  #spawn(): void {
    if (this.#stopped || this.#format === null) return;
    const player = new Player(this.#path, this.#format, this.#env, (error) => {
      if (this.#player === player) this.#player = null;
      this.#onFailure(error);
    });
    this.#player = player;
  }
}
