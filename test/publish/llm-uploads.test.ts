import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { connectListener, isEnd, type RecordedListener } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';

let relay: TestRelay;
const listeners: RecordedListener[] = [];

beforeEach(async () => {
  relay = await startTestRelay();
});

afterEach(async () => {
  for (const listener of listeners.splice(0)) listener.close();
  await relay.close();
});

async function listenWithClock(stream: string): Promise<{ listener: RecordedListener; firstAudioAt: Promise<number> }> {
  const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY });
  listeners.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  const firstAudioAt = new Promise<number>((resolve) => listener.socket.on('message', (_data, binary) => binary && resolve(performance.now())));
  return { listener, firstAudioAt };
}

const ANSWER = 'Sure. The relay speaks while the model is still writing, one sentence at a time, so nobody waits for the end. That is the whole point.';

/** Splits text the way an LLM streams it: word-sized tokens with their leading spaces. */
function tokens(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LLM streams over HTTP', () => {
  it('speaks an OpenAI-style SSE stream arriving token by token before the upload ends', async () => {
    const { listener, firstAudioAt } = await listenWithClock('sse');
    const body = controlledBody();
    const answer = relay.speak('sse', body.body, { contentType: 'text/event-stream', query: 'wait=true' });
    const startedAt = performance.now();
    body.write(': keep-alive comment\n\n');
    body.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`);
    for (const token of tokens(ANSWER)) {
      body.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: token }, finish_reason: null }] })}\n\n`);
      await sleep(60);
    }
    body.write(`data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
    const uploadEndedAt = performance.now();
    body.end();

    const result = (await (await answer).json()) as SpeakCompleted;
    expect(result).toMatchObject({ reason: 'done', characters: ANSWER.length });
    const firstAudio = await firstAudioAt;
    console.log(`SSE: first audio ${Math.round(firstAudio - startedAt)} ms after the first byte; upload lasted ${Math.round(uploadEndedAt - startedAt)} ms`);
    expect(firstAudio).toBeLessThan(uploadEndedAt - 1000);
    await listener.waitFor(isEnd);
    const words = listener.messages.flatMap((m) => (m.type === 'timestamps' ? m.words.map((w) => w.word) : []));
    expect(words).toEqual(expect.arrayContaining(['Sure', 'relay', 'sentence', 'whole', 'point']));
  });

  it('speaks NDJSON lines with flush marks, arriving slowly, before the upload ends', async () => {
    const { listener, firstAudioAt } = await listenWithClock('ndjson');
    const body = controlledBody();
    const answer = relay.speak('ndjson', body.body, { contentType: 'application/x-ndjson', query: 'wait=true' });
    const startedAt = performance.now();
    // No sentence end before the flush: the flush alone makes the first words speak.
    for (const token of tokens('Thinking out loud without stopping')) {
      body.write(`${JSON.stringify({ text: token })}\n`);
      await sleep(60);
    }
    body.write(`${JSON.stringify({ flush: true })}\n`);
    await sleep(1200);
    for (const token of tokens(' and then the rest of it arrives.')) {
      body.write(`${JSON.stringify({ text: token })}\n`);
      await sleep(60);
    }
    const uploadEndedAt = performance.now();
    body.end();

    const result = (await (await answer).json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    const firstAudio = await firstAudioAt;
    console.log(`NDJSON: first audio ${Math.round(firstAudio - startedAt)} ms after the first byte; upload lasted ${Math.round(uploadEndedAt - startedAt)} ms`);
    expect(firstAudio).toBeLessThan(uploadEndedAt - 500);
    await listener.waitFor(isEnd);
  });
});
