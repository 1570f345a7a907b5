/**
 * What a newcomer asks the relay first: its voices (any credential; `?voice=` checked against them, an
 * unknown one refused naming the nearest; TTS_VOICE as the default, checked at start), its streams (admin:
 * all; a token: those it covers) and a stream's status, whose `started_at` is wall-clock time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted, StreamList, StreamStatus, VoiceList } from '../../shared/api.ts';
import { isEnd, isStart } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { connectPublisher } from '../publish/publisher-client.ts';

let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function mint(r: TestRelay, streams: string[], actions: string[]): Promise<string> {
  const response = await r.request('/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ streams, actions }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

describe('GET /v1/voices', () => {
  it('lists the provider voices with id, name and language, to any credential', async () => {
    relay = await startTestRelay();
    const token = await mint(relay, ['kitchen'], ['listen']);
    const response = await relay.request('/v1/voices', { key: token });
    expect(response.status).toBe(200);
    const body = (await response.json()) as VoiceList;
    expect(body.provider).toBe('espeak');
    expect(body.default).toBe('en-us');
    expect(body.voices).toContainEqual({ id: 'en-gb', name: 'English (Great Britain)', language: 'en-gb' });
    expect((await relay.request('/v1/voices', { key: null })).status).toBe(401);
  });

  it('refuses an unknown ?voice= with 400 unknown_voice naming the nearest, before queueing anything', async () => {
    relay = await startTestRelay();
    const refused = await relay.speak('voices', 'Hello.', { query: 'voice=nonsense_voice' });
    expect(refused.status).toBe(400);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('unknown_voice');
    expect(error.message).toMatch(/Nearest: \S+ \(/);
    const typo = (await (await relay.speak('voices', 'Hello.', { query: 'voice=en-gbb' })).json()) as { error: { message: string } };
    expect(typo.error.message).toContain('en-gb (English (Great Britain))');
    const json = await relay.speak('voices', JSON.stringify({ text: 'Hi.', voice: 'klingonese' }), { contentType: 'application/json' });
    expect(json.status).toBe(400);
    expect((await relay.request('/v1/streams/voices')).status).toBe(404);
  });

  it('speaks a known voice in any case, and refuses an unknown one from a publisher too', async () => {
    relay = await startTestRelay();
    const done = await relay.speak('voices', 'Hello in British English.', { query: 'voice=EN-GB&wait=true' });
    expect(done.status).toBe(200);
    expect(((await done.json()) as SpeakCompleted).reason).toBe('done');
    const publisher = await connectPublisher(relay.url, 'voices', TEST_ADMIN_KEY);
    publisher.send({ type: 'text', text: 'Hi.', voice: 'nonsense_voice', seq: 1 });
    const reply = await publisher.waitFor((m) => m.type === 'error');
    expect(reply).toMatchObject({ type: 'error', seq: 1, error: { code: 'unknown_voice' } });
    publisher.close();
  });

  it('takes TTS_VOICE as the default, and will not start with a voice the provider lacks', async () => {
    relay = await startTestRelay({ TTS_VOICE: 'en-gb' });
    expect(((await (await relay.request('/v1/voices')).json()) as VoiceList).default).toBe('en-gb');
    await relay.close();
    relay = undefined;
    await expect(startTestRelay({ TTS_VOICE: 'en-gbb' })).rejects.toThrow(/TTS_VOICE: espeak has no voice "en-gbb" \(nearest: en-gb/);
  });
});

describe('GET /v1/streams', () => {
  it('lists every stream to the admin and only the covered ones to a token, with listeners, queue and current', async () => {
    relay = await startTestRelay();
    const kitchen = await relay.listen('kitchen');
    await relay.listen('home/hall');
    await relay.listen('garage');
    const slow = controlledBody();
    const speaking = relay.speak('home/hall', slow.body);
    slow.write('A sentence that is being spoken while the list is read. ');
    const listener = await relay.listen('home/hall');
    await listener.waitFor(isStart);

    const all = (await (await relay.request('/v1/streams')).json()) as StreamList;
    expect(all.streams.map((s) => s.stream)).toEqual(['garage', 'home/hall', 'kitchen']);
    const hall = all.streams.find((s) => s.stream === 'home/hall')!;
    expect(hall).toMatchObject({ listeners: 2, queue_length: 0 });
    expect(hall.current?.utterance).toBe(1);
    expect(all.streams.find((s) => s.stream === 'kitchen')).toEqual({ stream: 'kitchen', listeners: 1, queue_length: 0, current: null });

    const token = await mint(relay, ['home/*', 'kitchen'], ['listen']);
    const covered = (await (await relay.request('/v1/streams', { key: token })).json()) as StreamList;
    expect(covered.streams.map((s) => s.stream)).toEqual(['home/hall', 'kitchen']);
    slow.end();
    await speaking;
    await listener.waitFor(isEnd);
    kitchen.close();
  });

  it('gives current.started_at as wall-clock time', async () => {
    relay = await startTestRelay();
    const listener = await relay.listen('clock');
    const slow = controlledBody();
    const speaking = relay.speak('clock', slow.body);
    const before = Date.now();
    slow.write('This is spoken while the status is read. ');
    await listener.waitFor(isStart);
    const status = (await (await relay.request('/v1/streams/clock')).json()) as StreamStatus;
    const startedAt = Date.parse(status.current!.started_at);
    expect(startedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(startedAt).toBeLessThanOrEqual(Date.now() + 1000);
    slow.end();
    await speaking;
  });
});
