/**
 * Two "rooms" on a private PulseAudio daemon, recorded on one clock: a stereo null sink whose left channel is the
 * kitchen and right the hall (two mono remap sinks), captured by one `parec` from its monitor. What a player sends
 * into a room is what the test hears, sample for sample.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOM_RATE = 48_000;
export const ROOMS = ['kitchen', 'hall'] as const;
export type Room = (typeof ROOMS)[number];
/** The stereo sink under both rooms: a stereo stream played here reaches the kitchen (left) and the hall (right). */
export const MASTER = 'rooms';
/** parec's fragment: small, so the arrival time of each chunk says when its samples were played. */
const RECORD_LATENCY_MS = 10;
const STOP_GRACE_MS = 2000;

/** Both rooms as captured: `left` is the kitchen, `right` the hall, at ROOM_RATE. */
export interface Capture {
  rate: number;
  kitchen: Float32Array;
  hall: Float32Array;
  /** Epoch ms (this process's Date.now()) at which sample 0 was played, estimated from chunk arrivals. */
  startedAt: number;
}

export interface Recording {
  /** Samples per room captured so far. */
  samples(): number;
  /** Ends parec and returns what it heard. */
  stop(): Promise<Capture>;
}

export interface PulseRooms {
  /** `unix:<runtime>/pulse/native`, for PULSE_SERVER. */
  server: string;
  /** The daemon's process id (gone once close() resolves). */
  pid: number;
  /** Environment for a process that plays into `room` through SDL (ffplay) or libpulse (pacat, sox). */
  env(room: Room | typeof MASTER): Record<string, string>;
  /** Client streams playing (not corked) into `room` now: a player that has started. */
  playing(room: Room): Promise<number>;
  /** Starts recording both rooms (one parec on the stereo monitor: one clock). */
  record(): Promise<Recording>;
  /** Stops every recorder and the daemon; removes the runtime directory. Safe to call twice. */
  close(): Promise<void>;
}

const children = new Set<ChildProcess>();
// A test that crashes still leaves no daemon behind: the worker's exit kills whatever this module started.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

async function waitForDaemon(env: Record<string, string>, daemon: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`pulseaudio exited ${daemon.exitCode}: ${log()}`);
    try {
      await run('pactl', ['info'], env);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`pulseaudio did not answer within 15 s: ${log()}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Starts a private daemon (its own XDG_RUNTIME_DIR, nothing shared) with the two rooms. */
export async function startPulseRooms(): Promise<PulseRooms> {
  const runtime = mkdtempSync(join(tmpdir(), 'pulse-rooms-'));
  const env = { XDG_RUNTIME_DIR: runtime, HOME: runtime, PULSE_SERVER: `unix:${join(runtime, 'pulse', 'native')}` };
  // -n: no default.pa, so nothing suspends an idle sink and no real device is probed.
  const args = ['-n', '--daemonize=no', '--exit-idle-time=-1', '--log-target=stderr', '--load=module-native-protocol-unix auth-anonymous=1'];
  const daemon = track(spawn('pulseaudio', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  daemon.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const recorders = new Set<ChildProcess>();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all([...recorders].map(stopChild));
    await stopChild(daemon);
    rmSync(runtime, { recursive: true, force: true });
  };
  try {
    await waitForDaemon(env, daemon, () => log);
    await run('pactl', ['load-module', 'module-null-sink', `sink_name=${MASTER}`, 'channels=2', 'channel_map=front-left,front-right', `rate=${ROOM_RATE}`], env);
    for (const [room, channel] of [
      ['kitchen', 'front-left'],
      ['hall', 'front-right'],
    ] as const) {
      await run('pactl', ['load-module', 'module-remap-sink', `sink_name=${room}`, `master=${MASTER}`, 'channels=1', `master_channel_map=${channel}`, 'channel_map=mono', 'remix=no'], env);
    }
    const holder = holdLatency(env);
    recorders.add(holder.child);
    holder.child.once('exit', () => recorders.delete(holder.child));
    await holder.started;
  } catch (error) {
    await close();
    throw error;
  }
  return {
    server: env.PULSE_SERVER,
    pid: daemon.pid!,
    env: (room) => ({ ...env, SDL_AUDIODRIVER: 'pulseaudio', PULSE_SINK: room }),
    playing: (room) => playingInto(env, room),
    async record() {
      const recorder = startRecording(env);
      recorders.add(recorder.child);
      recorder.child.once('exit', () => recorders.delete(recorder.child));
      await recorder.started;
      return recorder.recording;
    },
    close,
  };
}

interface SinkInput {
  sink: number;
  corked: boolean;
}

async function playingInto(env: Record<string, string>, room: Room): Promise<number> {
  const sinks = JSON.parse(await run('pactl', ['-f', 'json', 'list', 'short', 'sinks'], env)) as Array<{ index: number; name: string }>;
  const sink = sinks.find((s) => s.name === room)?.index;
  const inputs = JSON.parse(await run('pactl', ['-f', 'json', 'list', 'sink-inputs'], env)) as SinkInput[];
  return inputs.filter((input) => input.sink === sink && !input.corked).length;
}

/**
 * A null sink renders in blocks of the smallest latency its streams ask for (ffplay's 11.6 ms alone, a recorder's
 * RECORD_LATENCY_MS): a recorder that joins changes it, and with it when each room's stream is rendered against its
 * player's clock, by up to a block. A recorder held from the start, its samples discarded, keeps the rooms as they
 * will be recorded.
 */
function holdLatency(env: Record<string, string>): { child: ChildProcess; started: Promise<void> } {
  const child = track(spawn('parec', recordArgs(), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = (async () => {
    const deadline = Date.now() + 15_000;
    while ((await run('pactl', ['list', 'short', 'source-outputs'], env)).trim() === '') {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`parec did not hold the rooms' latency: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { child, started };
}

function recordArgs(): string[] {
  return ['-d', `${MASTER}.monitor`, '--raw', '--format=float32le', '--channels=2', `--rate=${ROOM_RATE}`, `--latency-msec=${RECORD_LATENCY_MS}`];
}

function startRecording(env: Record<string, string>): { child: ChildProcess; started: Promise<void>; recording: Recording } {
  const child = track(spawn('parec', recordArgs(), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const chunks: Buffer[] = [];
  let bytes = 0;
  let stderr = '';
  // Sample 0 played at (arrival − samples so far / rate); the earliest such estimate is the least delayed one.
  let startedAt = Number.POSITIVE_INFINITY;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    bytes += chunk.length;
    startedAt = Math.min(startedAt, Date.now() - (bytes / 8 / ROOM_RATE) * 1000);
    markStarted();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    started: Promise.race([started, exited.then(() => Promise.reject(new Error(`parec ended before recording: ${stderr}`)))]),
    recording: {
      samples: () => Math.floor(bytes / 8),
      async stop() {
        await stopChild(child);
        await exited;
        return splitChannels(Buffer.concat(chunks), startedAt);
      },
    },
  };
}

function splitChannels(raw: Buffer, startedAt: number): Capture {
  const frames = Math.floor(raw.length / 8);
  const kitchen = new Float32Array(frames);
  const hall = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    kitchen[i] = raw.readFloatLE(i * 8);
    hall[i] = raw.readFloatLE(i * 8 + 4);
  }
  return { rate: ROOM_RATE, kitchen, hall, startedAt };
}
