/**
 * Real `tts-agent listen` processes on one stream, each playing through ffplay into its own PulseAudio room,
 * optionally behind a misbehaving link or with its wall clock off; what both rooms heard, per utterance.
 * Shared by the two-room tests and the bench's sync figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Capture, PulseRooms, Room } from './pulse-rooms.ts';

const AGENT_BIN = fileURLToPath(new URL('../../agent/bin.mjs', import.meta.url));
const STOP_GRACE_MS = 3000;
/** Bounds on hangs only: an agent's start-up (tsx, ffplay, the first clock burst) on a busy machine. */
const READY_BOUND_MS = 30_000;

export interface RoomAgentOptions {
  room: Room;
  url: string;
  stream: string;
  token: string;
  /** Extra `listen` flags (`--sync on`, `--latency-ms 120`, …). */
  args?: string[];
  /** Wall-clock skew for the whole agent (and its ffplay), libfaketime's FAKETIME, e.g. '+0.7s'. */
  skew?: string;
  /** Ready once its relay-clock estimate rests on this many exchanges (default 8: the burst at connect). */
  clockSamples?: number;
}

export interface ClockLine {
  type: 'clock';
  offset_ms: number;
  uncertainty_ms: number;
  rtt_ms: number;
  samples: number;
  used: number;
}

export interface PlayoutLine {
  type: 'playout';
  utterance: number;
  late_samples: number;
  inserted_samples: number;
  dropped_samples: number;
  skips: number;
  flushes: number;
}

export interface RoomAgent {
  room: Room;
  child: ChildProcess;
  stderr(): string;
  clocks: ClockLine[];
  playouts: PlayoutLine[];
  stop(): Promise<void>;
}

/** libfaketime itself, preloaded into the agent: the `faketime` wrapper forks, and a signal to it leaves node running. */
function libfaketime(): string {
  for (const dir of ['/usr/lib', '/usr/lib64', ...readdirSync('/usr/lib').map((d) => join('/usr/lib', d))]) {
    const path = join(dir, 'faketime', 'libfaketime.so.1');
    if (existsSync(path)) return path;
  }
  throw new Error('libfaketime.so.1 not found (Debian package faketime)');
}

function skewEnv(skew: string | undefined): Record<string, string> {
  // Only the wall clock is off; monotonic time runs true, as on a machine whose clock is merely set wrong.
  return skew === undefined ? {} : { LD_PRELOAD: libfaketime(), FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/** Starts an agent playing into `room` (`--json`); resolves once it knows the relay clock and its ffplay plays. */
export async function startRoomAgent(rooms: PulseRooms, options: RoomAgentOptions): Promise<RoomAgent> {
  const args = [AGENT_BIN, 'listen', options.stream, '--url', options.url, '--token', options.token, '--json', ...(options.args ?? [])];
  const env = { ...process.env, ...rooms.env(options.room), ...skewEnv(options.skew) };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const agent: RoomAgent = { room: options.room, child, stderr: () => stderr, clocks: [], playouts: [], stop: () => stopAgent(child) };
  const flags = options.args ?? [];
  // --sync off: no clock, and ffplay starts with the first audio; connected is ready.
  const unsynced = flags[flags.indexOf('--sync') + 1] === 'off' && flags.includes('--sync');
  const samples = options.clockSamples ?? 8;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.room} agent not in step within ${READY_BOUND_MS} ms: ${stderr}`)), READY_BOUND_MS);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (unsynced && /connected to /.test(stderr)) clearTimeout(timer), resolve();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (stdout += chunk.toString()).split('\n');
      stdout = lines.pop()!;
      for (const line of lines) {
        const message = JSON.parse(line) as ClockLine | PlayoutLine;
        if (message.type === 'playout') agent.playouts.push(message);
        if (message.type !== 'clock') continue;
        agent.clocks.push(message);
        if (message.samples >= samples) clearTimeout(timer), resolve();
      }
    });
    child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`${options.room} agent exited (${signal ?? code}): ${stderr}`))));
  });
  try {
    await ready;
    if (!unsynced) await playing(rooms, options.room, child);
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}

/** Until the agent's ffplay plays into its room (ffplay's start-up takes seconds on a busy machine). */
async function playing(rooms: PulseRooms, room: Room, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_BOUND_MS;
  while ((await rooms.playing(room)) === 0) {
    if (child.exitCode !== null) throw new Error(`${room} agent exited`);
    if (Date.now() > deadline) throw new Error(`${room}: no player in the room within ${READY_BOUND_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Both rooms' agents, started together (each ready on its own), stopped together. */
export async function startRoomAgents(rooms: PulseRooms, options: RoomAgentOptions[]): Promise<{ agents: RoomAgent[]; stop(): Promise<void> }> {
  const started = await Promise.allSettled(options.map((o) => startRoomAgent(rooms, o)));
  const agents = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async (): Promise<void> => void (await Promise.all(agents.map((agent) => agent.stop())));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { agents, stop };
}

/** Both rooms recorded on one clock while `act` runs, then `tailMs` more for the rooms to finish playing. */
export async function recordRooms(rooms: PulseRooms, act: () => Promise<void>, tailMs: number): Promise<Capture> {
  const recording = await rooms.record();
  try {
    await act();
    await new Promise((resolve) => setTimeout(resolve, tailMs));
  } catch (error) {
    await recording.stop();
    throw error;
  }
  return recording.stop();
}
