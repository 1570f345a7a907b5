/**
 * A Cartesia-compatible client barging in with its own cancel, as pipecat and LiveKit do: Cartesia sends nothing
 * for a context after its cancel, so the relay keeps quiet unless the cancel asks (`heard: true`), and then ends
 * the context with a `done` carrying what the stream's listeners heard before the cut.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { generation, isDoneOf, rawCartesiaClient, type RawCartesiaClient } from '../support/cartesia-client.ts';
import { isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { RATE, received, report } from './listener-reports.ts';

const LONG = 'This answer is long and it rambles on, sentence after sentence, until somebody interrupts it. '.repeat(4);

let relay: TestRelay;

beforeEach(async () => {
  // A short playout lead, so a report 0.2 s behind what was sent is within what was presented (see played-reports.test.ts).
  relay = await startTestRelay({ RELAY_HEARD_WAIT_MS: '1000', RELAY_COMPAT_CONTEXT_IDLE_MS: '60000', RELAY_PLAYOUT_LEAD_MS: '100' });
});

afterEach(async () => {
  await relay.close();
});

/** Opens a context that stays open (as a voice agent's while its LLM streams) and waits until 1 s of it was played. */
async function speakingContext(stream: string, listener: RecordedListener, id: string): Promise<{ client: RawCartesiaClient; utterance: number }> {
  const client = await rawCartesiaClient(relay.url, `/tts/websocket?stream=${stream}`, { authorization: `Bearer ${TEST_ADMIN_KEY}` });
  client.send(generation(id, LONG, { continue: true, max_buffer_delay_ms: 0, output_format: { container: 'raw', encoding: 'pcm_f32le', sample_rate: 44100 } }));
  const start = await listener.waitFor(isStart);
  await listener.waitFor((m) => m.type === 'timestamps' && m.utterance === start.utterance);
  await received(listener, start.utterance, 1.2);
  report(listener, { type: 'played', utterance: start.utterance, samples: RATE });
  return { client, utterance: start.utterance };
}

describe('a Cartesia-compatible client’s own cancel', () => {
  it('answers a cancel that asks for heard with a done carrying what was heard before the cut', async () => {
    const listener = await relay.listen('compat-cancel');
    const { client, utterance } = await speakingContext('compat-cancel', listener, 'answer');
    client.send({ context_id: 'answer', cancel: true, heard: true });
    const end = await listener.waitFor((m) => isEnd(m) && m.utterance === utterance);
    expect(end).toMatchObject({ reason: 'cancelled' });
    report(listener, { type: 'played', utterance, samples: RATE, final: true });
    const done = await client.waitFor(isDoneOf('answer'), 20_000);
    client.close();
    expect(done).toMatchObject({ type: 'done', context_id: 'answer', done: true, status_code: 206, heard: { listeners: 1, unconfirmed: 0, seconds: 1 } });
    const heard = (done as { heard: { text: string; words: number } }).heard;
    expect(heard.words).toBeGreaterThan(0);
    expect(LONG.startsWith(heard.text)).toBe(true);
    expect(client.messages.filter(isDoneOf('answer'))).toHaveLength(1);
    console.log(`compat cancel: sent "${LONG.slice(0, 60)}…"; heard 1 s: "${heard.text}" (${heard.words} words)`);
  });

  it('sends nothing after a plain cancel, as Cartesia does', async () => {
    const listener = await relay.listen('compat-plain');
    const { client, utterance } = await speakingContext('compat-plain', listener, 'answer');
    client.send({ context_id: 'answer', cancel: true });
    await listener.waitFor((m) => isEnd(m) && m.utterance === utterance);
    report(listener, { type: 'played', utterance, samples: RATE, final: true });
    // The next utterance of the stream ends after the cut one's heard is settled; a context opened after that
    // on the same socket gets its done after anything the relay sent for the cancelled one.
    const next = (await (await relay.speak('compat-plain', 'Next.', { query: 'wait=true' })).json()) as SpeakCompleted;
    expect(next.reason).toBe('done');
    client.send(generation('after', 'After.'));
    await client.waitFor(isDoneOf('after'), 20_000);
    client.close();
    expect(client.messages.filter((m) => m.context_id === 'answer' && m.type !== 'chunk' && m.type !== 'timestamps')).toEqual([]);
  });
});
