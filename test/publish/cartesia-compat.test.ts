import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CartesiaServerMessage } from '../../shared/cartesia-messages.ts';
import { rawCartesiaClient, type RawCartesiaClient, TEST_CARTESIA_VERSION } from '../support/cartesia-client.ts';
import { connectListener, isEnd, refusedUpgrade, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { mint } from '../security/tokens.ts';

let relay: TestRelay;
const sockets: Array<{ close(): void }> = [];

beforeEach(async () => {
  relay = await startTestRelay();
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await relay.close();
});

/** A Cartesia client written by hand (test/support), as browser code or another language's SDK would be; closed after each test. */
async function rawClient(path: string, headers: Record<string, string> = {}): Promise<RawCartesiaClient> {
  const client = await rawCartesiaClient(relay.url, path, headers);
  sockets.push(client.socket);
  return client;
}

async function listen(stream: string): Promise<RecordedListener> {
  const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY });
  sockets.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

const request = (contextId: string, transcript: string, extra: Record<string, unknown> = {}) => ({
  context_id: contextId,
  model_id: 'sonic-3',
  transcript,
  voice: { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' },
  output_format: { container: 'raw', encoding: 'pcm_f32le', sample_rate: 44100 },
  ...extra,
});

describe('Cartesia-compatible ingress: authentication and stream choice', () => {
  it('takes the key the ways the SDKs send it: Authorization: Bearer and X-API-Key, with cartesia-version', async () => {
    const forms: Array<Record<string, string>> = [{ authorization: `Bearer ${TEST_ADMIN_KEY}` }, { 'x-api-key': TEST_ADMIN_KEY, 'cartesia-version': '2026-08-14' }];
    for (const headers of forms) {
      const client = await rawClient('/tts/websocket?stream=auth', headers);
      client.send(request('c', 'Hi.'));
      expect(await client.waitFor((m) => m.type === 'done')).toMatchObject({ context_id: 'c', done: true, status_code: 206 });
      client.socket.close();
    }
  });

  it('takes a token in ?api_key= or ?access_token= (with ?cartesia_version=), and speaks on the stream the token names', async () => {
    const { token } = await mint(relay, { streams: ['lobby'], actions: ['speak'] });
    const listener = await listen('lobby');
    for (const param of ['api_key', 'access_token']) {
      const client = await rawClient(`/tts/websocket?${param}=${encodeURIComponent(token)}&cartesia_version=2026-08-14`);
      client.send(request(param, 'Token speaking.'));
      await client.waitFor((m) => m.type === 'done');
      client.socket.close();
    }
    await listener.waitFor((m) => m.type === 'utterance_end' && m.utterance === 2);
    expect(listener.messages.filter(isEnd).map((m) => m.reason)).toEqual(['done', 'done']);
  });

  it('refuses a missing or wrong key, an admin key in the URL, and a stream the token does not cover', async () => {
    expect(await refusedUpgrade(relay.url, '/tts/websocket')).toEqual({ status: 401, code: 'unauthorized' });
    expect(await refusedUpgrade(relay.url, '/tts/websocket', { 'x-api-key': 'not-the-key-0123456789' })).toEqual({ status: 401, code: 'unauthorized' });
    expect((await refusedUpgrade(relay.url, `/tts/websocket?api_key=${TEST_ADMIN_KEY}`)).status).toBe(401);
    const { token } = await mint(relay, { streams: ['lobby'], actions: ['speak'] });
    expect(await refusedUpgrade(relay.url, '/tts/websocket?stream=kitchen', { authorization: `Bearer ${token}`, 'cartesia-version': TEST_CARTESIA_VERSION })).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusedUpgrade(relay.url, '/cartesia/bad..name/tts/websocket', { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'cartesia-version': TEST_CARTESIA_VERSION })).toEqual({ status: 400, code: 'invalid_stream_name' });
  });

  it('picks the stream from ?stream=, else from the base URL path /cartesia/{stream}, else "default"', async () => {
    const streams = ['by-query', 'by/path', 'default'];
    const listeners = await Promise.all(streams.map(listen));
    const paths = ['/tts/websocket?stream=by-query', '/cartesia/by/path/tts/websocket', '/tts/websocket'];
    for (const path of paths) {
      const client = await rawClient(path, { authorization: `Bearer ${TEST_ADMIN_KEY}` });
      client.send(request('c', 'Which stream am I on?'));
      await client.waitFor((m) => m.type === 'done');
      client.socket.close();
    }
    for (const listener of listeners) expect((await listener.waitFor(isEnd)).reason).toBe('done');
  });
});

describe('Cartesia-compatible ingress: messages', () => {
  it('maps continuations to one utterance, answers flush_done per flush, and timestamps only when asked', async () => {
    const listener = await listen('msgs');
    const client = await rawClient('/tts/websocket?stream=msgs', { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    client.send(request('ctx-1', 'First part, ', { continue: true, max_buffer_delay_ms: 0, generation_config: { speed: 1.1, volume: 1 }, language: 'en' }));
    client.send(request('ctx-1', '', { continue: true, flush: true }));
    client.send(request('ctx-1', 'second part.', { continue: true }));
    client.send(request('ctx-1', '', { continue: true, flush: true }));
    client.send(request('ctx-1', '', { continue: false }));
    await client.waitFor((m) => m.type === 'done');
    const types = client.messages.map((m) => m.type);
    expect(types.filter((t) => t === 'flush_done')).toHaveLength(2);
    expect(types).not.toContain('timestamps');
    expect(client.messages.filter((m) => m.type === 'flush_done').map((m) => m.type === 'flush_done' && m.flush_id)).toEqual([1, 2]);
    // Every chunk before the first flush_done belongs to flush 1.
    const firstFlush = types.indexOf('flush_done');
    expect(client.messages.slice(0, firstFlush).every((m) => m.type !== 'chunk' || m.flush_id === 1)).toBe(true);
    expect(listener.messages.filter((m) => m.type === 'utterance_start')).toHaveLength(1);
  });

  it('sends error frames for bad requests without closing the socket', async () => {
    const client = await rawClient('/tts/websocket?stream=errs', { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    client.socket.send('{not json');
    client.send(request('wav', 'Hi.', { output_format: { container: 'wav', encoding: 'pcm_s16le', sample_rate: 24000 } }));
    client.send({ context_id: 'no-transcript', cancel: 'yes' });
    client.send(request('empty', '', { continue: false }));
    await client.waitFor((m) => m.type === 'error' && m.context_id === 'empty');
    const errors = client.messages.filter((m): m is Extract<CartesiaServerMessage, { type: 'error' }> => m.type === 'error');
    expect(errors.map((e) => [e.context_id, e.status_code, e.error_code])).toEqual([
      [undefined, 400, 'invalid_message'],
      ['wav', 400, 'invalid_message'],
      ['no-transcript', 400, 'invalid_message'],
      ['empty', 400, 'empty_text'],
    ]);
    // As the API reference shapes them: a human title, the message, a machine code, the connection's request_id.
    expect(errors.every((e) => e.done && e.title === 'Bad Request' && e.message && e.request_id === errors[0]!.request_id)).toBe(true);
    client.send(request('fine', 'Still open.'));
    await client.waitFor((m) => m.type === 'done' && m.context_id === 'fine');
  });

  it('a barge-in from elsewhere cuts the stream, and the client context still ends with done', async () => {
    const client = await rawClient('/tts/websocket?stream=barge', { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    client.send(request('long', 'A long answer that somebody interrupts. It goes on and on, sentence after sentence. ', { continue: true }));
    await client.waitFor((m) => m.type === 'chunk');
    const interrupt = await relay.speak('barge', 'Stop, I have a question.', { query: 'interrupt=true' });
    expect(interrupt.status).toBe(202);
    expect(await client.waitFor((m) => m.type === 'done' && m.context_id === 'long')).toMatchObject({ done: true });
  });
});
