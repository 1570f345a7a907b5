/** Scheduled playout (issue 12): a real relay, a real agent; the WAV it records in step is checked against the relay's presentation times. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeSamples, encodeSamples } from '../../shared/codecs.ts';
import type { TimingMessage, UtteranceEnd } from '../../shared/protocol.ts';
import { parseWav, wavHeader } from '../../shared/wav.ts';
import { relayClockAt } from '../../worker/core/relay-clock.ts';
import { isEnd } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, within, type TestRelay } from '../support/relay.ts';
import { spawnAgent, stopAgents } from './agent-process.ts';

/** Silence on the relay's timeline between the two utterances. */
const GAP_MS = 300;

let relay: TestRelay;
let dir: string;
beforeEach(async () => {
  relay = await startTestRelay();
  dir = mkdtempSync(join(tmpdir(), 'scheduled-'));
});
afterEach(async () => {
  await stopAgents();
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

async function recordTwo(extra: string[]) {
  const raw = await relay.listen('room', { timing: 'true' });
  const wav = join(dir, 'room.wav');
  const agent = spawnAgent(['listen', 'room', '--url', relay.url, '--token', TEST_ADMIN_KEY, '--player', 'none', '--out', wav, '--count', '2', '--json', '--sync', 'on', ...extra]);
  await agent.waitForLine(/in step: relay clock/, 20_000);
  await (await relay.speak('room', 'The first one.', { query: 'wait=true' })).text();
  // The second must follow a gap on the relay's timeline: wait (on the relay's own clock, this process's) until
  // the first's end, a sync delay before its presentation end, has passed.
  const hello = raw.messages.find((m) => m.type === 'hello')!;
  const end = (await raw.waitFor((m) => isEnd(m) && m.utterance === 1)) as UtteranceEnd;
  const dryAt = end.at! - hello.clock!.sync_delay_ms + GAP_MS;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, dryAt - relayClockAt(performance.now()))));
  await (await relay.speak('room', 'And the second.', { query: 'wait=true' })).text();
  expect((await within(agent.exited, 20_000, 'agent exit')).code).toBe(0);
  const firstTiming = (u: number) => raw.messages.find((m): m is TimingMessage => m.type === 'timing' && m.utterance === u && m.sample === 0)!;
  const timeline = JSON.parse(readFileSync(`${wav}.timeline.json`, 'utf8'));
  const { format, data } = parseWav(readFileSync(wav));
  return { raw, timeline, format, samples: decodeSamples(format.encoding, data), at: [firstTiming(1).at, firstTiming(2).at], stdout: agent.stdout().toString() };
}

describe('tts-agent listen in step (--player none --out)', () => {
  it('places each utterance --latency-ms before its presentation time (the device is heard that much later), silence between, volume applied', async () => {
    const { timeline, format, samples, at, raw, stdout } = await recordTwo(['--latency-ms', '120', '--volume=-6dB']);
    const rate = format.sampleRate;
    const [one, two] = timeline.utterances;
    // Where the file (what goes to the device) puts each utterance, on the relay clock: the latency before its
    // presentation time, within 2 ms.
    expect(timeline.start_at + (one.start_sample / rate) * 1000 - (at[0]! - 120)).toBeCloseTo(0, -0.5);
    expect(timeline.start_at + (two.start_sample / rate) * 1000 - (at[1]! - 120)).toBeCloseTo(0, -0.5);
    // The gap between them is measured in the file itself: silence, as long as the relay's timeline says.
    expect(((two.start_sample - one.start_sample) / rate) * 1000).toBeCloseTo(at[1]! - at[0]!, -0.5);
    const gap = samples.subarray(one.start_sample + one.samples, two.start_sample);
    expect(gap.length / rate).toBeGreaterThan(GAP_MS / 1000 - 0.002);
    expect(gap.every((s) => s === 0)).toBe(true);
    // Volume: the file's first utterance is the sent audio at half amplitude (-6 dB).
    const sent = decodeSamples(format.encoding, raw.audioOf(1));
    const heard = samples.subarray(one.start_sample, one.start_sample + Math.min(one.samples, sent.length));
    const peak = (a: Float32Array) => a.reduce((m, s) => Math.max(m, Math.abs(s)), 0);
    expect(peak(heard) / peak(sent)).toBeCloseTo(0.501, 2);
    expect(stdout).toMatch(/"type":"playout","utterance":2,"late_samples":0/);
  }, 60_000);

  it('plays the chime, cut to --preroll-ms and at --volume 0.5, ending where the first utterance begins; none before one that follows at once', async () => {
    const rate = 22050;
    const chime = new Float32Array(rate / 5).map((_, i) => 0.25 + (0.5 * i) / (rate / 5));
    const chimePath = join(dir, 'chime.wav');
    const body = encodeSamples('pcm_f32le', chime);
    writeFileSync(chimePath, Buffer.concat([wavHeader({ encoding: 'pcm_f32le', sampleRate: rate }, body.byteLength), body]));
    const { timeline, samples, at, raw } = await recordTwo(['--chime', chimePath, '--preroll-ms', '100', '--volume', '0.5']);
    const entry = (u: number) => timeline.utterances.find((e: { utterance: number }) => e.utterance === u);
    const [bell, one, two] = [entry(-1), entry(1), entry(2)];
    const window = Math.round(0.1 * rate);
    // The file opens with the chime's first 100 ms at half level, and the utterance follows at once, on time.
    expect(bell).toMatchObject({ start_sample: 0, samples: window });
    expect(one.start_sample).toBe(window);
    expect([...samples.subarray(0, window)]).toEqual([...chime.subarray(0, window)].map((s) => Math.fround(s * 0.5)));
    expect(Math.abs(timeline.start_at + (one.start_sample / rate) * 1000 - at[0]!)).toBeLessThan(2);
    // --volume 0.5: the utterance at half amplitude.
    const sent = decodeSamples('pcm_f32le', raw.audioOf(1));
    const peak = (a: Float32Array) => a.reduce((m, s) => Math.max(m, Math.abs(s)), 0);
    expect(peak(samples.subarray(one.start_sample, one.start_sample + one.samples)) / peak(sent)).toBeCloseTo(0.5, 2);
    // The second came after a short pause, not a quiet spell: silence before it, no chime.
    expect(samples.subarray(one.start_sample + one.samples, two.start_sample).every((s) => s === 0)).toBe(true);
    expect(timeline.utterances.filter((e: { utterance: number }) => e.utterance === -1)).toHaveLength(1);
  }, 60_000);

  it('drops audio that arrives after it is due, counts it, and plays the rest in its place', async () => {
    // No sync delay: each utterance's first audio is due as the relay sends it, so it reaches the agent late.
    // (A delaying proxy would not do: it delays one way only, and the clock estimate halves that into a bias.)
    await relay.close();
    relay = await startTestRelay({ RELAY_SYNC_DELAY_MS: '0' });
    const { timeline, samples, raw, stdout } = await recordTwo([]);
    const rate = 22050;
    const one = timeline.utterances.find((e: { utterance: number }) => e.utterance === 1);
    const late = Number(/"type":"playout","utterance":1,"late_samples":(\d+)/.exec(stdout)![1]);
    expect(late).toBeGreaterThan(0);
    expect(late).toBeLessThan(0.5 * rate);
    expect(timeline.late_samples).toBeGreaterThanOrEqual(late);
    // What came in time is heard where it was due: find which sent sample the file's utterance opens with (the
    // late ones before it are gone), and its presentation time from the relay's timing anchors.
    const sent = decodeSamples('pcm_f32le', raw.audioOf(1));
    // (From its first sound: espeak opens with silence, which would match anywhere.)
    const sound = one.start_sample + samples.subarray(one.start_sample).findIndex((v) => Math.abs(v) > 0.01);
    const opening = samples.subarray(sound, sound + 100);
    const first = sent.findIndex((_, k) => opening.every((v, i) => v === sent[k + i]));
    expect(first).toBeGreaterThanOrEqual(0);
    const anchor = raw.messages.filter((m): m is TimingMessage => m.type === 'timing' && m.utterance === 1 && m.sample <= first).at(-1)!;
    const due = anchor.at + ((first - anchor.sample) / rate) * 1000;
    expect(Math.abs(timeline.start_at + (sound / rate) * 1000 - due)).toBeLessThan(2);
    expect(one.samples).toBeLessThanOrEqual(sent.length - late + timeline.inserted_samples);
  }, 60_000);
});
