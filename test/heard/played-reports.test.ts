import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted, StreamStatus } from '../../shared/api.ts';
import { samplesIn } from '../../shared/audio-format.ts';
import type { Played, WordTimestamp } from '../../shared/protocol.ts';
import { generation, isDoneOf, rawCartesiaClient } from '../support/cartesia-client.ts';
import { isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';

const LONG = 'This answer is long and it rambles on, sentence after sentence, until somebody interrupts it. '.repeat(4);
const RATE = 22050;

let relay: TestRelay;

beforeEach(async () => {
  // Compat contexts stay open (no idle end) for as long as a barge-in test takes on a busy machine.
  relay = await startTestRelay({ RELAY_HEARD_WAIT_MS: '1000', RELAY_COMPAT_CONTEXT_IDLE_MS: '60000' });
});

afterEach(async () => {
  await relay.close();
});

function report(listener: RecordedListener, played: Played): void {
  listener.socket.send(JSON.stringify(played));
}

function samplesSent(listener: RecordedListener, utterance: number): number {
  return samplesIn({ encoding: 'pcm_f32le', sampleRate: RATE }, listener.audioOf(utterance).byteLength);
}

/** Resolves once the listener was sent `seconds` of the utterance. */
async function received(listener: RecordedListener, utterance: number, seconds: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (samplesSent(listener, utterance) < seconds * RATE) {
    if (Date.now() > deadline) throw new Error(`listener got only ${samplesSent(listener, utterance) / RATE} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function wordsOf(listener: RecordedListener, utterance: number): WordTimestamp[] {
  return listener.messages.flatMap((m) => (m.type === 'timestamps' && m.utterance === utterance ? m.words : []));
}

/** Speaks with ?wait=true; the answer comes when the utterance and its heard are settled. */
async function speakLong(stream: string): Promise<{ answer: Promise<SpeakCompleted> }> {
  return { answer: relay.speak(stream, LONG, { query: 'wait=true' }).then((r) => r.json() as Promise<SpeakCompleted>) };
}

describe('what listeners heard', () => {
  it('says nothing was heard when nobody listened', async () => {
    const answer = (await (await relay.speak('empty-room', 'Hello, is anybody there?', { query: 'wait=true' })).json()) as SpeakCompleted;
    expect(answer.reason).toBe('done');
    expect(answer.heard).toEqual({ text: '', words: 0, seconds: 0, listeners: 0, unconfirmed: 0 });
  });

  it('counts a listener that reports nothing as unconfirmed, never as having heard', async () => {
    await relay.listen('silent');
    const answer = (await within((await relay.speak('silent', 'A short sentence for a silent listener.', { query: 'wait=true' })).json(), 20_000)) as SpeakCompleted;
    expect(answer.heard).toEqual({ text: '', words: 0, seconds: 0, listeners: 0, unconfirmed: 1 });
  });

  it('takes the furthest of two listeners, after a cut, as words whose end was reached', async () => {
    const near = await relay.listen('two');
    const far = await relay.listen('two');
    const { answer } = await speakLong('two');
    const start = await far.waitFor(isStart);
    // Word times come out after their clause's audio: wait for the first clause's, so 2 s falls within stamped words.
    await far.waitFor((m) => m.type === 'timestamps');
    await received(near, start.utterance, 2.2);
    report(near, { type: 'played', utterance: start.utterance, samples: RATE });
    report(far, { type: 'played', utterance: start.utterance, samples: 2 * RATE });
    await relay.request('/v1/streams/two/cancel', { method: 'POST' });
    await far.waitFor(isEnd);
    await near.waitFor(isEnd);
    report(near, { type: 'played', utterance: start.utterance, samples: RATE, final: true });
    report(far, { type: 'played', utterance: start.utterance, samples: 2 * RATE, final: true });
    const heard = (await within(answer, 20_000)).heard!;
    expect(heard.listeners).toBe(2);
    expect(heard.unconfirmed).toBe(0);
    expect(heard.seconds).toBeCloseTo(2, 3);
    const expected = wordsOf(far, start.utterance).filter((w) => w.end <= 2).length;
    expect(expected).toBeGreaterThan(0);
    expect(heard.words).toBe(expected);
    expect(LONG.startsWith(heard.text)).toBe(true);
    expect(heard.text.split(/\s+/).length).toBe(heard.words);
  });

  it('caps future samples, refuses other utterances and closes a flood without touching other listeners', async () => {
    const honest = await relay.listen('hostile');
    const liar = await relay.listen('hostile');
    const flooder = await relay.listen('hostile');
    const { answer } = await speakLong('hostile');
    const start = await honest.waitFor(isStart);
    await received(honest, start.utterance, 1);
    await received(liar, start.utterance, 1);
    for (let i = 0; i < 1000; i++) report(flooder, { type: 'played', utterance: start.utterance, samples: i });
    expect((await within(flooder.closed, 10_000)).code).toBe(4429);
    report(liar, { type: 'played', utterance: start.utterance + 7, samples: 10 });
    report(liar, { type: 'played', utterance: start.utterance, samples: 0xffffffff });
    report(honest, { type: 'played', utterance: start.utterance, samples: Math.round(0.5 * RATE) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const status = (await (await relay.request('/v1/streams/hostile')).json()) as StreamStatus;
    const positions = new Map(status.positions!.map((p) => [p.listener_id, p]));
    expect(positions.size).toBe(2);
    const [first, second] = [...positions.values()].map((p) => p.seconds!).sort((a, b) => a - b);
    expect(first).toBeCloseTo(0.5, 2);
    // The liar's claim was capped at what it had been sent at that moment.
    expect(second).toBeGreaterThan(0.9);
    expect(second).toBeLessThan(10);
    for (const p of positions.values()) expect(p.lag_seconds).toBeGreaterThanOrEqual(0);
    await relay.request('/v1/streams/hostile/cancel', { method: 'POST' });
    await honest.waitFor(isEnd);
    report(honest, { type: 'played', utterance: start.utterance, samples: Math.round(0.5 * RATE), final: true });
    report(liar, { type: 'played', utterance: start.utterance, samples: 0, final: true });
    const heard = (await within(answer, 20_000)).heard!;
    // The flooder's reports before it was closed were within what it had been sent: they count.
    expect(heard.listeners).toBe(3);
    expect(heard.seconds).toBeLessThanOrEqual(samplesSent(liar, start.utterance) / RATE + 1e-3);
    const metrics = await (await relay.request('/metrics')).text();
    expect(metrics).toMatch(/tts_relay_played_reports_total\{outcome="refused"\} [1-9]/);
    expect(metrics).toMatch(/tts_relay_played_reports_total\{outcome="capped"\} [1-9]/);
    expect(metrics).toMatch(/tts_relay_played_reports_total\{outcome="dropped"\} [1-9]/);
    expect(metrics).toMatch(/tts_relay_heard_latency_seconds_count [1-9]/);
  });

  it('tells a Cartesia-compatible client, in its cut context’s done, what was heard before a barge-in', async () => {
    const listener = await relay.listen('compat');
    const client = await rawCartesiaClient(relay.url, '/tts/websocket?stream=compat', { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    // Still open (continue: true), as a voice agent's context is while its LLM streams the reply.
    client.send(generation('answer', LONG, { continue: true, max_buffer_delay_ms: 0, output_format: { container: 'raw', encoding: 'pcm_f32le', sample_rate: 44100 } }));
    const start = await listener.waitFor(isStart);
    await listener.waitFor((m) => m.type === 'timestamps');
    await received(listener, start.utterance, 1.2);
    report(listener, { type: 'played', utterance: start.utterance, samples: RATE });
    expect((await relay.speak('compat', 'Sorry.', { query: 'interrupt=true' })).status).toBe(202);
    await listener.waitFor(isEnd);
    report(listener, { type: 'played', utterance: start.utterance, samples: RATE, final: true });
    const done = await client.waitFor(isDoneOf('answer'), 20_000);
    client.close();
    expect(done).toMatchObject({ context_id: 'answer', status_code: 206, heard: { listeners: 1, seconds: 1, text: expect.stringMatching(/^This answer/) } });
    expect(LONG.startsWith((done as { heard: { text: string } }).heard.text)).toBe(true);
  });

  it('keeps Cartesia’s done, without heard, for a context that finished before any cut', async () => {
    const client = await rawCartesiaClient(relay.url, '/tts/websocket?stream=compat-done', { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    client.send(generation('short', 'A short reply.'));
    const done = await client.waitFor(isDoneOf('short'));
    client.close();
    expect(done).toEqual({ type: 'done', context_id: 'short', done: true, status_code: 206 });
  });

  it('closes a listener that sends something other than a playback report', async () => {
    const listener = await relay.listen('garbage');
    listener.socket.send(JSON.stringify({ type: 'played', utterance: 1, samples: 1, extra: true }));
    expect((await within(listener.closed, 5000)).code).toBe(4400);
  });
});
