/**
 * A barge-in end to end: a real agent plays through ffplay (headless) and reports what it played, a raw
 * listener records the word timestamps and reports nothing; 1.5 s into a long sentence a new utterance
 * interrupts, and the cut one's `heard` is the words whose timestamped end its audio reached.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted, StreamStatus } from '../../shared/api.ts';
import type { WordTimestamp } from '../../shared/protocol.ts';
import { spawnAgent, stopAgents } from '../agent/agent-process.ts';
import { startCartesiaRig, RIG_ADMIN_KEY } from '../support/cartesia-rig.ts';
import { connectListener, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, within } from '../support/relay.ts';

const SENTENCE =
  'The quarterly report shows that revenue grew in every region, that costs stayed flat, and that the team ' +
  'shipped the new billing system two weeks ahead of the schedule everybody had agreed on in the spring.';
const BARGE_IN_AT_SECONDS = 1.5;

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await stopAgents();
  for (const close of closers.splice(0)) await close();
});

interface Target {
  url: string;
  key: string;
}

async function request(target: Target, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${target.key}`);
  return fetch(new URL(path, target.url), { ...init, headers });
}

/** Polls the status route until the agent (the one listener that reports) has played `seconds` of the utterance. */
async function agentPlayed(target: Target, stream: string, seconds: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await (await request(target, `/v1/streams/${stream}`)).json()) as StreamStatus;
    const furthest = Math.max(0, ...(status.positions ?? []).map((p) => p.seconds ?? 0));
    if (furthest >= seconds) return furthest;
    if (Date.now() > deadline) throw new Error(`the agent reported only ${furthest} s (status positions ${JSON.stringify(status.positions)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function wordsOf(listener: RecordedListener, utterance: number): WordTimestamp[] {
  return listener.messages.flatMap((m) => (m.type === 'timestamps' && m.utterance === utterance ? m.words : []));
}

async function bargeIn(target: Target, stream: string): Promise<void> {
  const raw = await connectListener(target.url, stream, { key: target.key });
  closers.push(() => raw.close());
  await raw.waitFor((m) => m.type === 'hello');
  const agent = spawnAgent(['listen', stream], { TTS_RELAY_URL: target.url, TTS_RELAY_TOKEN: target.key });
  await agent.waitForLine(/connected to/);

  const answer = request(target, `/v1/streams/${stream}/speak?wait=true`, { method: 'POST', body: SENTENCE }).then((r) => r.json() as Promise<SpeakCompleted>);
  const start = await raw.waitFor(isStart, 30_000);
  const reported = await agentPlayed(target, stream, BARGE_IN_AT_SECONDS).catch((error: Error) => {
    throw new Error(`${error.message}; the agent said:\n${agent.stderr()}`);
  });
  const interrupting = await request(target, `/v1/streams/${stream}/speak?interrupt=true`, { method: 'POST', body: 'Sorry, one moment.' });
  expect(interrupting.status).toBe(202);
  const cut = await within(answer, 30_000, 'the cut utterance');

  expect(cut.reason).toBe('cancelled');
  const heard = cut.heard!;
  expect(heard.listeners).toBe(1);
  expect(heard.unconfirmed).toBe(1);
  // The cut came a poll and a request after the report: the agent's last report is a little further on.
  expect(heard.seconds).toBeGreaterThanOrEqual(reported - 0.05);
  expect(heard.seconds).toBeLessThan(reported + 1.5);
  // Every timestamp released before the cut (those of the heard audio among them) reaches the raw listener
  // ahead of the cut utterance's end; on a busy machine little more than the heard audio may have been released.
  await raw.waitFor((m) => m.type === 'utterance_end' && m.utterance === start.utterance, 30_000);
  const words = wordsOf(raw, start.utterance);
  const expected = words.filter((w) => w.end <= heard.seconds).length;
  expect(heard.words).toBeLessThan(SENTENCE.split(' ').length); // cut mid-sentence
  expect(Math.abs(heard.words - expected)).toBeLessThanOrEqual(1);
  expect(heard.words).toBeGreaterThan(0);
  expect(SENTENCE.startsWith(heard.text)).toBe(true);
  expect(heard.text.split(/\s+/).length).toBe(heard.words);
  console.log(`barge-in (${stream}): sent "${SENTENCE}"; heard ${heard.seconds} s: "${heard.text}" (${heard.words} words; ${expected} timestamped words end by then)`);
}

describe('what was heard before a barge-in', () => {
  it('with the embedded engine (espeak), whose timestamps skip words', async () => {
    const relay = await startTestRelay({ RELAY_HEARD_WAIT_MS: '1000' });
    closers.push(() => relay.close());
    await bargeIn({ url: relay.url, key: TEST_ADMIN_KEY }, 'espeak-barge');
  }, 60_000);

  it('with Cartesia (the emulator, through the real SDK)', async () => {
    const rig = await startCartesiaRig({ env: { RELAY_PLAYOUT_LEAD_MS: '1500', RELAY_HEARD_WAIT_MS: '1000' } });
    closers.push(() => rig.close());
    await bargeIn({ url: rig.relay.url, key: RIG_ADMIN_KEY }, 'cartesia-barge');
  }, 60_000);
});
