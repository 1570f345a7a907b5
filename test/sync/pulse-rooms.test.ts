import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASTER, ROOM_RATE, startPulseRooms, type PulseRooms, type Room } from '../support/pulse-rooms.ts';
import { findSegments, msOf, silentFrom, utteranceOffsets } from '../support/room-analysis.ts';

let rooms: PulseRooms;
let dir: string;

beforeAll(async () => {
  rooms = await startPulseRooms();
  dir = mkdtempSync(join(tmpdir(), 'pulse-rooms-test-'));
});

afterAll(async () => {
  await rooms.close();
  rmSync(dir, { recursive: true, force: true });
});

function exec(command: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`))));
  });
}

function output(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}`))));
  });
}

/** Three bursts of pink noise, 0.4 s each with 0.5 s of silence between: three "utterances". */
async function bursts(name: string, rate: number): Promise<string> {
  const one = join(dir, `${name}-one.wav`);
  const file = join(dir, `${name}.wav`);
  await exec('sox', ['-n', '-r', String(rate), '-c', '1', '-b', '16', one, 'synth', '0.4', 'pinknoise', 'vol', '0.3', 'pad', '0.3', '0.5']);
  await exec('sox', [one, one, one, file]);
  return file;
}

const ffplay = (file: string, room: Room) => exec('ffplay', ['-nodisp', '-autoexit', '-loglevel', 'error', file], rooms.env(room));

describe('two rooms on one PulseAudio clock', () => {
  it('measures a known offset between the rooms to a fraction of a sample, on every utterance', async () => {
    const mono = await bursts('known', ROOM_RATE);
    const stereo = join(dir, 'known-stereo.wav');
    // Left as is, right 1,800 samples (37.5 ms) later: the offset is exact, whatever the players' start-up.
    await exec('sox', [mono, '-c', '2', stereo, 'remix', '1', '1', 'delay', '0', '1800s']);
    const recording = await rooms.record();
    await exec('paplay', ['-d', MASTER, stereo], rooms.env(MASTER));
    const capture = await recording.stop();
    const offsets = utteranceOffsets(capture);
    expect(offsets).toHaveLength(3);
    for (const utterance of offsets) {
      expect(utterance.offsetMs).toBeCloseTo(37.5, 1);
      expect(utterance.hallOnsetMs - utterance.kitchenOnsetMs).toBeCloseTo(37.5, 0);
    }
  });

  it('plays ffplay into one room only, and one player keeps its bursts exactly spaced', async () => {
    const file = await bursts('players', 22_050);
    const recording = await rooms.record();
    // One after the other: while the kitchen plays, the hall must stay silent (and the other way round).
    await ffplay(file, 'kitchen');
    await ffplay(file, 'hall');
    const capture = await recording.stop();
    const offsets = utteranceOffsets(capture);
    expect(offsets).toHaveLength(3);
    const kitchen = findSegments(capture.kitchen, capture.rate);
    const hall = findSegments(capture.hall, capture.rate);
    expect(hall[0]!.start).toBeGreaterThan(kitchen[2]!.end);
    // ffplay's start-up varies by hundreds of ms on a busy machine, and a starved ffplay underruns (6 ms seen at
    // load 19), so one player's three bursts keep their spacing only to within a few underruns.
    for (const utterance of offsets) expect(Math.abs(utterance.offsetMs - offsets[0]!.offsetMs)).toBeLessThan(30);
    for (const room of [kitchen, hall]) expect(Math.abs(msOf(room[2]!.start - room[0]!.start, capture.rate) - 2400)).toBeLessThan(30);
    expect(silentFrom(capture.kitchen)).toBe(kitchen[2]!.end);
  });

  it('records without changing when the rooms render what they are given (their sink keeps its latency)', async () => {
    const configured = async () => {
      const sinks = JSON.parse(await output('pactl', ['-f', 'json', 'list', 'sinks'], rooms.env(MASTER))) as Array<{ name: string; latency: { configured: number } }>;
      return sinks.find((sink) => sink.name === MASTER)!.latency.configured;
    };
    const before = await configured();
    const recording = await rooms.record();
    const during = await configured();
    await recording.stop();
    expect(during).toBe(before);
  });

  it('leaves no process behind when closed', async () => {
    const spare = await startPulseRooms();
    const recording = await spare.record();
    expect(recording.samples()).toBeGreaterThanOrEqual(0);
    await spare.close();
    expect(() => process.kill(spare.pid, 0)).toThrow();
  });
});
