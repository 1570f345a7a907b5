import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { speakCompletedSchema } from '../../shared/api.ts';
import { rms } from '../../shared/audio-stats.ts';
import { decodeSamples } from '../../shared/codecs.ts';
import { parseWav } from '../../shared/wav.ts';
import { startNodeRelay, type RunningRelay } from '../../worker/runtime/node.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, within, type TestRelay } from '../support/relay.ts';
import { spawnAgent, STACK_FRAME, stopAgents } from './agent-process.ts';

const run = promisify(execFile);
const CONNECTED = /connected to /;
const SENTENCE = 'Played through a real ffplay.';

// Generous per test; the suite's own config may not be loaded (`npx vitest run test/agent`).
describe('tts-agent listen', { timeout: 30_000 }, () => {
  let relay: TestRelay;
  let extraRelays: RunningRelay[] = [];
  let dir: string;

  beforeEach(async () => {
    // The agent reports what ffplay played once it has played; on a loaded machine that can come later than the
    // default 1.5 s the relay waits for reports, and the first test checks the report was counted.
    relay = await startTestRelay({ RELAY_HEARD_WAIT_MS: '15000' });
    dir = await mkdtemp(join(tmpdir(), 'tts-agent-'));
  });

  afterEach(async () => {
    await stopAgents();
    await Promise.all([relay.close(), ...extraRelays.map((r) => r.close())]);
    extraRelays = [];
    await rm(dir, { recursive: true, force: true });
  });

  const env = (): Record<string, string> => ({ TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });

  it('plays an utterance through real ffplay and exits 0 once it has played, with --once', async () => {
    const agent = spawnAgent(['listen', 'play', '--once'], env());
    await agent.waitForLine(CONNECTED);

    const askedAt = Date.now();
    const answer = await relay.speak('play', SENTENCE, { query: 'wait=true' });
    const completed = speakCompletedSchema.parse(await answer.json());
    const { code } = await within(agent.exited, 15_000, 'agent exit');

    expect(code).toBe(0);
    expect(completed.audio_seconds).toBeGreaterThan(0.5);
    expect(agent.stderr()).toMatch(/playing utterance \d+/);
    expect(agent.stderr()).toMatch(/utterance \d+ done: \d+\.\d\d s of audio/);
    expect(agent.stderr()).toMatch(/stopped: 1 utterance, \d+\.\d\d s of audio/);
    // ffplay plays in real time: an agent that exits before the audio's length has passed dropped some of it
    // instead of letting ffplay finish (speak?wait itself answers once the agent reported the end played).
    expect(Date.now() - askedAt).toBeGreaterThan(completed.audio_seconds * 1000 * 0.9);
    expect(completed.heard?.listeners).toBe(1);
  });

  it('records a WAV with --out whose length and loudness show speech', async () => {
    const wav = join(dir, 'speech.wav');
    const agent = spawnAgent(['listen', 'record', '--out', wav, '--once', '--encoding', 'pcm_s16le', '--sample-rate', '24000'], env());
    await agent.waitForLine(CONNECTED);

    await relay.speak('record', SENTENCE, { query: 'wait=true' });
    expect((await within(agent.exited, 15_000, 'agent exit')).code).toBe(0);

    expect(agent.stderr()).toMatch(/recording utterance/);
    const { format, data } = parseWav(new Uint8Array(await readFile(wav)));
    expect(format).toEqual({ encoding: 'pcm_s16le', sampleRate: 24000 });
    const samples = decodeSamples(format.encoding, data);
    expect(samples.length / format.sampleRate).toBeGreaterThan(0.5);
    expect(rms(samples)).toBeGreaterThan(0.02);

    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate:format=duration', '-of', 'json', wav]);
    const probe = JSON.parse(stdout) as { streams: Array<{ codec_name: string; sample_rate: string }>; format: { duration: string } };
    expect(probe.streams[0]).toMatchObject({ codec_name: 'pcm_s16le', sample_rate: '24000' });
    expect(Number(probe.format.duration)).toBeCloseTo(samples.length / format.sampleRate, 2);
  });

  it('without sync, kills and respawns ffplay when an utterance is cancelled, and marks the cut in the recording', async () => {
    const wav = join(dir, 'cut.wav');
    const agent = spawnAgent(['listen', 'cut', '--player', 'ffplay', '--out', wav, '--once', '--sync', 'off'], env());
    await agent.waitForLine(CONNECTED);

    // A streaming body keeps the utterance open, so the cancel lands while it is still being spoken.
    const body = controlledBody();
    const answer = relay.speak('cut', body.body);
    body.write('This utterance starts playing, and then somebody cancels it. ');
    await agent.waitForLine(/playing utterance \d+/);
    const cancel = await relay.request('/v1/streams/cut/cancel', { method: 'POST' });
    expect(cancel.status).toBe(200);

    const restart = await agent.waitForLine(/ffplay restarted: utterance \d+ cancelled/);
    expect(restart).toBeTruthy();
    expect((await within(agent.exited, 10_000, 'agent exit')).code).toBe(0);
    expect(agent.stderr()).toMatch(/utterance \d+ cancelled/);
    body.end();
    await answer.catch(() => undefined);

    const cuts = JSON.parse(await readFile(`${wav}.cuts.json`, 'utf8')) as { cuts: Array<{ reason: string; samples: number; start_sample: number }> };
    expect(cuts.cuts).toHaveLength(1);
    expect(cuts.cuts[0]).toMatchObject({ reason: 'cancelled', start_sample: 0 });
    const { data, format } = parseWav(new Uint8Array(await readFile(wav)));
    expect(data.byteLength / 4).toBe(cuts.cuts[0]!.samples);
    expect(format.encoding).toBe('pcm_f32le');
  });

  it('reconnects after the relay restarts on the same port, then plays', async () => {
    const port = Number(new URL(relay.url).port);
    const agent = spawnAgent(['listen', 'again', '--once', '--player', 'none', '--out', join(dir, 'again.wav')], env());
    await agent.waitForLine(CONNECTED);

    await relay.close();
    await agent.waitForLine(/reconnecting in \d+\.\d s/);
    const restarted = await startNodeRelay({ port, host: '127.0.0.1', quiet: true, env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: TEST_ADMIN_KEY } });
    extraRelays.push(restarted);
    await agent.waitForLines(CONNECTED, 2, 15_000);

    const answer = await fetch(`${restarted.url}/v1/streams/again/speak?wait=true`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}`, 'Content-Type': 'text/plain' },
      body: 'Back after a restart.',
    });
    expect(answer.status).toBe(200);
    expect((await within(agent.exited, 10_000, 'agent exit')).code).toBe(0);
    expect(agent.stderr()).toMatch(/stopped: 1 utterance/);
  });

  it('reconnects when heartbeats stop arriving', async () => {
    const quick = await startTestRelay({ RELAY_HEARTBEAT_MS: '100' });
    extraRelays.push(quick);
    const agent = spawnAgent(['listen', 'beat', '--player', 'none', '--out', join(dir, 'beat.wav')], { TTS_RELAY_URL: quick.url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
    await agent.waitForLine(CONNECTED);

    // Freeze this process, relay included, well past 2 × heartbeat_ms; the agent runs on in its own.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);

    await agent.waitForLine(/no heartbeat for 0\.2 s/);
    await agent.waitForLines(CONNECTED, 2);
  });

  it('fails with one clear line and a non-zero exit when ffplay is missing', async () => {
    const agent = spawnAgent(['listen', 'missing'], { ...env(), FFPLAY_PATH: '/nonexistent/ffplay' });
    const { code } = await within(agent.exited, 10_000, 'agent exit');

    expect(code).toBe(1);
    expect(agent.stderr()).toMatch(/^tts-agent: ffplay not found at \/nonexistent\/ffplay \(FFPLAY_PATH\): install FFmpeg or pass --out file\.wav \/ --player stdout\n$/);
    expect(agent.stderr()).not.toMatch(STACK_FRAME);
  });

  it('reports an ffplay that exits early in one line, with the fix, and a non-zero exit', async () => {
    // `true -version` passes the start-up check; then it quits at once instead of playing.
    const agent = spawnAgent(['listen', 'early'], { ...env(), FFPLAY_PATH: '/bin/true' });
    const { code } = await within(agent.exited, 10_000, 'agent exit');

    expect(code).toBe(1);
    expect(agent.stderr()).toMatch(/\ntts-agent: ffplay exited early \(exit code 0\): check the audio device \(SDL_AUDIODRIVER\) or pass --out file\.wav \/ --player stdout\n$/);
    expect(agent.stderr()).not.toMatch(STACK_FRAME);
  });

  it('finalises the WAV, closes the socket and exits 0 on SIGTERM', async () => {
    const wav = join(dir, 'stopped.wav');
    const agent = spawnAgent(['listen', 'sig', '--out', wav], env());
    await agent.waitForLine(CONNECTED);
    const completed = speakCompletedSchema.parse(await (await relay.speak('sig', 'Recorded, then stopped.', { query: 'wait=true' })).json());
    await agent.waitForLine(/utterance \d+ done/);

    agent.child.kill('SIGTERM');
    expect((await within(agent.exited, 10_000, 'agent exit')).code).toBe(0);

    const bytes = new Uint8Array(await readFile(wav));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const { data } = parseWav(bytes);
    expect(view.getUint32(4, true)).toBe(bytes.byteLength - 8);
    expect(view.getUint32(bytes.byteLength - data.byteLength - 4, true)).toBe(data.byteLength);
    // In step the stop comes before the utterance is due to be heard; with no device the file still keeps all of it.
    expect(data.byteLength / 4 / 22050).toBeCloseTo(completed.audio_seconds, 1);
    const status = (await (await relay.request('/v1/streams/sig')).json()) as { listeners: number };
    expect(status.listeners).toBe(0);
  });

  it('stops at once, without retrying, when the relay refuses the credentials', async () => {
    const agent = spawnAgent(['listen', 'locked', '--out', join(dir, 'locked.wav')], { TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: 'not-the-key-at-all' });
    const { code } = await within(agent.exited, 10_000, 'agent exit');

    expect(code).toBe(1);
    expect(agent.stderr()).toMatch(/relay refused to let this agent listen: error unauthorized: .+ \(the relay does not know this key or token: check --token/);
    expect(agent.stderr()).not.toMatch(/reconnecting/);
    expect(agent.stderr()).not.toMatch(STACK_FRAME);
  });

  it('writes raw samples to stdout with --player stdout, keeping status on stderr', async () => {
    const agent = spawnAgent(['listen', 'pipe', '--player', 'stdout', '--once', '--encoding', 'pcm_s16le', '--sample-rate', '16000'], env());
    await agent.waitForLine(CONNECTED);

    const completed = speakCompletedSchema.parse(await (await relay.speak('pipe', 'Raw samples on standard output.', { query: 'wait=true' })).json());
    expect((await within(agent.exited, 10_000, 'agent exit')).code).toBe(0);

    const raw = agent.stdout();
    expect(raw.byteLength / 2 / 16000).toBeCloseTo(completed.audio_seconds, 1);
    expect(rms(decodeSamples('pcm_s16le', new Uint8Array(raw)))).toBeGreaterThan(0.02);
    expect(agent.stderr()).toMatch(/receiving utterance/);
  });
});
