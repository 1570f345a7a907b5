import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted, StreamStatus } from '../../shared/api.ts';
import type { WordTimestamp } from '../../shared/protocol.ts';
import { relayClockAt } from '../../worker/core/relay-clock.ts';
import { generation, isDoneOf, rawCartesiaClient } from '../support/cartesia-client.ts';
import { isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';
import { RATE, received, report, secondsSent, sentAhead } from './listener-reports.ts';

const LONG = 'This answer is long and it rambles on, sentence after sentence, until somebody interrupts it. '.repeat(4);
// Compat contexts stay open (no idle end) for as long as a barge-in test takes on a busy machine.
const ENV = { RELAY_HEARD_WAIT_MS: '1000', RELAY_COMPAT_CONTEXT_IDLE_MS: '60000' };
/**
 * These tests report what the listener was sent as played. A report may reach no further than the audio presented
 * by now (plus 0.5 s): with a short playout lead, audio is sent at most the lead (0.1 s), the sync delay (0.25 s)
 * and a chunk (~0.1 s) before its time, so a report 0.2 s behind what was sent is within it.
 */
const SHORT_LEAD = { ...ENV, RELAY_PLAYOUT_LEAD_MS: '100' };
/**
 * Audio is sent up to 4 s + the sync delay before its time, which a liar could claim. A report may reach 0.5 s past
 * the audio presented when the relay takes it: sent 3 s ahead, a lie stays short of all that was sent unless the relay
 * takes its report 2.5 s late, however slowly a busy machine synthesizes.
 */
const LONG_LEAD = { ...ENV, RELAY_PLAYOUT_LEAD_MS: '4000' };
const LIAR_AHEAD_S = 3;

let relay: TestRelay;

afterEach(async () => {
  await relay.close();
});

function wordsOf(listener: RecordedListener, utterance: number): WordTimestamp[] {
  return listener.messages.flatMap((m) => (m.type === 'timestamps' && m.utterance === utterance ? m.words : []));
}

/** Speaks with ?wait=true; the answer comes when the utterance and its heard are settled. */
async function speakLong(stream: string): Promise<{ answer: Promise<SpeakCompleted> }> {
  return { answer: relay.speak(stream, LONG, { query: 'wait=true' }).then((r) => r.json() as Promise<SpeakCompleted>) };
}

describe('what listeners heard', () => {
  beforeEach(async () => {
    relay = await startTestRelay(SHORT_LEAD);
  });

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

  it('leaves reports at 0 samples, sent before anything plays, out of the heard latency', async () => {
    const listener = await relay.listen('latency');
    const answer = relay.speak('latency', 'A short sentence, heard to its end.', { query: 'wait=true' }).then((r) => r.json() as Promise<SpeakCompleted>);
    const start = await listener.waitFor(isStart);
    await received(listener, start.utterance, 0.01);
    // As the agent does when an utterance starts: a report of nothing played yet.
    report(listener, { type: 'played', utterance: start.utterance, samples: 0 });
    await listener.waitFor(isEnd);
    report(listener, { type: 'played', utterance: start.utterance, samples: Math.round(0.25 * RATE), final: true });
    expect((await within(answer, 20_000)).heard).toMatchObject({ listeners: 1, seconds: 0.25 });
    const metrics = await (await relay.request('/metrics')).text();
    expect(metrics).toMatch(/^tts_relay_played_reports_total\{outcome="accepted"\} 2$/m);
    // Only the final report, of a position that was presented, is a latency.
    expect(metrics).toMatch(/^tts_relay_heard_latency_seconds_count 1$/m);
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

describe('hostile playback reports', () => {
  beforeEach(async () => {
    relay = await startTestRelay(LONG_LEAD);
  });

  it('caps future samples at what was presented by now, refuses other utterances and closes a flood without touching other listeners', async () => {
    const honest = await relay.listen('hostile');
    const liar = await relay.listen('hostile', { timing: 'true' });
    const flooder = await relay.listen('hostile');
    const { answer } = await speakLong('hostile');
    const start = await honest.waitFor(isStart);
    await sentAhead(liar, start.utterance, LIAR_AHEAD_S);
    const sentToLiar = secondsSent(liar, start.utterance);
    report(liar, { type: 'played', utterance: start.utterance + 7, samples: 10 });
    report(liar, { type: 'played', utterance: start.utterance, samples: 0xffffffff });
    report(honest, { type: 'played', utterance: start.utterance, samples: Math.round(0.4 * RATE) });
    for (let i = 0; i < 1000; i++) report(flooder, { type: 'played', utterance: start.utterance, samples: i });
    expect((await within(flooder.closed, 10_000)).code).toBe(4429);
    const [first, second, readAt] = await bothPositions('hostile');
    expect(first).toBeCloseTo(0.4, 2);
    // The liar's claim was capped at the audio presented when it came (plus the 0.25 s sync delay and 0.25 s), short of all it had been sent.
    const timing = liar.messages.find((m) => m.type === 'timing' && m.utterance === start.utterance);
    expect(timing).toBeDefined();
    const presentedByRead = Math.max(0, readAt - (timing as { at: number }).at) / 1000;
    expect(second).toBeLessThanOrEqual(presentedByRead + 0.5 + 1e-3);
    expect(second).toBeLessThan(sentToLiar);
    await relay.request('/v1/streams/hostile/cancel', { method: 'POST' });
    await honest.waitFor(isEnd);
    report(honest, { type: 'played', utterance: start.utterance, samples: Math.round(0.4 * RATE), final: true });
    report(liar, { type: 'played', utterance: start.utterance, samples: 0, final: true });
    const heard = (await within(answer, 20_000)).heard!;
    // The flooder's reports before it was closed were within what it had been sent: they count.
    expect(heard.listeners).toBe(3);
    expect(heard.seconds).toBeCloseTo(second, 3);
    const metrics = await (await relay.request('/metrics')).text();
    expect(metrics).toMatch(/tts_relay_played_reports_total\{outcome="refused"\} [1-9]/);
    expect(metrics).toMatch(/tts_relay_played_reports_total\{outcome="capped"\} [1-9]/);
    expect(metrics).toMatch(/tts_relay_played_reports_total\{outcome="dropped"\} [1-9]/);
    expect(metrics).toMatch(/tts_relay_heard_latency_seconds_count [1-9]/);
  });
});

/** Polls the status route until two listeners have reported; their positions, lowest first, then when it read them (relay clock). */
async function bothPositions(stream: string): Promise<[number, number, number]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const status = (await (await relay.request(`/v1/streams/${stream}`)).json()) as StreamStatus;
    const readAt = relayClockAt(performance.now());
    const reported = (status.positions ?? []).filter((p) => p.seconds !== null);
    if (reported.length === 2) {
      for (const p of reported) expect(p.lag_seconds).toBeGreaterThanOrEqual(0);
      const [first, second] = reported.map((p) => p.seconds!).sort((x, y) => x - y) as [number, number];
      return [first, second, readAt];
    }
    if (performance.now() > deadline) throw new Error(`positions: ${JSON.stringify(status.positions)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
