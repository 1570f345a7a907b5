import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import type { ErrorCode } from '../../shared/errors.ts';
import { connectListener, refusedUpgrade } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';

let relay: TestRelay;

beforeAll(async () => {
  relay = await startTestRelay({ RELAY_MAX_SPEAK_BYTES: '4096', RELAY_MAX_UTTERANCE_CHARS: '500' });
});

afterAll(async () => {
  await relay.close();
});

async function expectError(response: Response, status: number, code: ErrorCode): Promise<void> {
  expect({ status: response.status, body: await response.json() }).toEqual({
    status,
    body: { error: { code, message: expect.any(String) } },
  });
}

describe('bad input gets a JSON error with a stable code', () => {
  it('empty or blank text: 400 empty_text', async () => {
    await expectError(await relay.speak('s', ''), 400, 'empty_text');
    await expectError(await relay.speak('s', ' \n\t '), 400, 'empty_text');
    await expectError(await relay.speak('s', JSON.stringify({ text: '' }), { contentType: 'application/json' }), 400, 'empty_text');
  });

  it('malformed NDJSON: 400 invalid_ndjson naming the line', async () => {
    const response = await relay.speak('s', '{"text":"fine"}\n{not json}\n', { contentType: 'application/x-ndjson' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_ndjson');
    expect(body.error.message).toContain('Line 2');
    await expectError(await relay.speak('s', '["an array"]\n', { contentType: 'application/x-ndjson' }), 400, 'invalid_ndjson');
  });

  it('malformed JSON: 400 invalid_json', async () => {
    await expectError(await relay.speak('s', '{"text":', { contentType: 'application/json' }), 400, 'invalid_json');
    await expectError(await relay.speak('s', '{"txt":"hi"}', { contentType: 'application/json' }), 400, 'invalid_json');
  });

  it('text that is not UTF-8: 400 invalid_utf8', async () => {
    await expectError(await relay.speak('s', new Uint8Array([0x48, 0x69, 0xff, 0xfe, 0x21])), 400, 'invalid_utf8');
  });

  it('an unsupported content type: 415', async () => {
    await expectError(await relay.speak('s', 'x', { contentType: 'image/png' }), 415, 'unsupported_media_type');
  });

  it('a body over the byte limit, counted while streaming: 413', async () => {
    await expectError(await relay.speak('s', 'a '.repeat(3000)), 413, 'payload_too_large');
  });

  it('an utterance over the character limit: 413 text_too_long', async () => {
    await expectError(await relay.speak('s', 'word '.repeat(150)), 413, 'text_too_long');
  });

  it('missing or wrong credentials: 401, on HTTP and on WebSocket upgrade', async () => {
    await expectError(await relay.speak('s', 'hi', { key: null }), 401, 'unauthorized');
    await expectError(await relay.speak('s', 'hi', { key: 'wrong-key-wrong-key' }), 401, 'unauthorized');
    await expectError(await relay.request('/v1/streams/s', { headers: { authorization: 'Basic abc' } }), 401, 'unauthorized');
    const refused = await refusedUpgrade(relay.url, '/v1/streams/s/listen');
    expect(refused).toEqual({ status: 401, code: 'unauthorized' });
  });

  it('a WebSocket listener may authenticate with a minted token in ?token= (admin keys stay out of URLs)', async () => {
    const minted = await relay.request('/v1/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ streams: ['token-query'], actions: ['listen'] }),
    });
    const { token } = (await minted.json()) as { token: string };
    expect(await refusedUpgrade(relay.url, `/v1/streams/token-query/listen?token=${TEST_ADMIN_KEY}`)).toEqual({ status: 401, code: 'unauthorized' });
    const listener = await connectListener(relay.url, 'token-query', { query: { token } });
    expect((await listener.waitFor((m) => m.type === 'hello')).type).toBe('hello');
    listener.close();
  });

  it('unknown encoding or sample rate: 400 at the upgrade', async () => {
    const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
    const encoding = await refusedUpgrade(relay.url, '/v1/streams/s/listen?encoding=mp3', auth);
    expect(encoding).toEqual({ status: 400, code: 'unsupported_encoding' });
    const rate = await refusedUpgrade(relay.url, '/v1/streams/s/listen?sample_rate=12345', auth);
    expect(rate).toEqual({ status: 400, code: 'unsupported_sample_rate' });
  });

  it('listen without a WebSocket upgrade: 400', async () => {
    await expectError(await relay.request('/v1/streams/s/listen'), 400, 'bad_request');
  });

  it('unknown routes: 404 not_found; wrong methods: 405', async () => {
    await expectError(await relay.request('/v2/nothing'), 404, 'not_found');
    // `/` is the player page; a path beside it is not.
    await expectError(await relay.request('/nothing'), 404, 'not_found');
    await expectError(await relay.request('/v1/streams/s/speak'), 405, 'method_not_allowed');
  });

  it('a stream that was never used: 404 stream_not_found', async () => {
    await expectError(await relay.request('/v1/streams/never-used'), 404, 'stream_not_found');
  });

  it.each(['..%2Fetc', 'a%2F..%2Fb', '.hidden', 'a//b', 'x'.repeat(129), 'bad%20name', 'kitchen/speak/speak', '%ZZ'])(
    'stream name %j: 400 invalid_stream_name',
    async (name) => {
      await expectError(await relay.speak(name, 'hello'), 400, 'invalid_stream_name');
    },
  );

  it('a listener that sends a message is closed with a protocol close code', async () => {
    const listener = await connectListener(relay.url, 'chatty', { key: TEST_ADMIN_KEY });
    listener.socket.send('hello?');
    const closed = await listener.closed;
    expect(closed.code).toBe(4400);
    expect(closed.reason).toBe('invalid_message');
  });

  it('none of it hurts: the relay still speaks on every stream afterwards', async () => {
    const health = await fetch(new URL('/healthz', relay.url));
    expect(health.status).toBe(200);
    const result = (await (await relay.speak('after', 'Still speaking.', { query: 'wait=true' })).json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
  });
});
