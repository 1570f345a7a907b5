/**
 * Bad input never hurts: a barrage of hostile requests and frames, each answered with its code, while a
 * stream speaks with an utterance queued behind — which both finish, heard whole.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SpeakAccepted } from '../../shared/api.ts';
import { connectListener, isEnd, type RecordedListener, refusedUpgrade } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';

let relay: TestRelay;
let listener: RecordedListener;

beforeAll(async () => {
  relay = await startTestRelay({ RELAY_UPLOAD_IDLE_MS: '500' });
  listener = await connectListener(relay.url, 'steady', { key: TEST_ADMIN_KEY });
  await listener.waitFor((m) => m.type === 'hello');
});

afterAll(async () => {
  listener?.close();
  await relay?.close();
});

async function code(response: Response): Promise<[number, string | null]> {
  await response.arrayBuffer();
  return [response.status, response.headers.get('x-error-code')];
}

/** Sends frames on a fresh socket; resolves with its close code and every text reply. */
async function frames(path: string, messages: Array<string | Buffer>): Promise<{ close: number; replies: string[] }> {
  const socket = new WebSocket(new URL(path, relay.url.replace(/^http/, 'ws')), { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
  const replies: string[] = [];
  socket.on('message', (data, isBinary) => {
    if (!isBinary) replies.push(data.toString());
  });
  const closed = new Promise<number>((resolve) => socket.once('close', (c) => resolve(c)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  for (const message of messages) socket.send(message);
  const close = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(0), 300))]);
  if (close === 0) socket.close();
  return { close, replies };
}

it('answers each hostile input with its code while another stream speaks on, its queue intact', async () => {
  const first = (await (await relay.speak('steady', 'The first announcement carries on while the relay is attacked.')).json()) as SpeakAccepted;
  const second = (await (await relay.speak('steady', 'The second one, queued behind it, is not lost.')).json()) as SpeakAccepted;

  const ndjson = 'application/x-ndjson';
  const results = {
    invalidUtf8: await code(await relay.speak('victim', new Uint8Array([0x41, 0xc3, 0x28, 0x42]))),
    invalidUtf8InNdjson: await code(await relay.speak('victim', new Uint8Array([...Buffer.from('{"text":"'), 0xff, ...Buffer.from('"}\n')]), { contentType: ndjson })),
    malformedNdjson: await code(await relay.speak('victim', '{"text":"ok"}\n{"text":\n', { contentType: ndjson })),
    unknownNdjsonShape: await code(await relay.speak('victim', '{"text":["not","a","string"]}\n', { contentType: ndjson })),
    hugeLine: await code(await relay.speak('victim', `{"text":"${'a'.repeat(70_000)}"}\n`, { contentType: ndjson })),
    hugeSseLine: await code(await relay.speak('victim', `data: ${'b'.repeat(70_000)}\n\n`, { contentType: 'text/event-stream' })),
    malformedJson: await code(await relay.speak('victim', '{"text": "unterminated', { contentType: 'application/json' })),
    binaryAsJson: await code(await relay.speak('victim', new Uint8Array([0x00, 0x01, 0x02, 0xff]), { contentType: 'application/json' })),
    nestedJson: await code(await relay.speak('victim', `${'['.repeat(5000)}${']'.repeat(5000)}`, { contentType: 'application/json' })),
    pathTraversal: await code(await relay.speak('..%2F..%2Fetc%2Fpasswd', 'x')),
    // URL parsers fold %2E%2E into `..` before the relay sees it: this one arrives as /v1/speak.
    dotDotSegment: await code(await relay.request('/v1/streams/%2E%2E/speak', { method: 'POST', body: 'x' })),
    encodedSlashes: await code(await relay.request('/v1/streams/a%2F%2E%2E%2Fb/speak', { method: 'POST', body: 'x' })),
    controlCharName: await code(await relay.speak('bad%0Aname', 'x')),
    tooLongName: await code(await relay.speak('n'.repeat(129), 'x')),
    wrongMethod: await code(await relay.request('/v1/streams/victim/cancel')),
  };
  expect(results).toEqual({
    invalidUtf8: [400, 'invalid_utf8'],
    invalidUtf8InNdjson: [400, 'invalid_utf8'],
    malformedNdjson: [400, 'invalid_ndjson'],
    unknownNdjsonShape: [400, 'invalid_ndjson'],
    hugeLine: [413, 'payload_too_large'],
    hugeSseLine: [413, 'payload_too_large'],
    malformedJson: [400, 'invalid_json'],
    binaryAsJson: [400, 'invalid_utf8'],
    nestedJson: [400, 'invalid_json'],
    pathTraversal: [400, 'invalid_stream_name'],
    dotDotSegment: [404, 'not_found'],
    encodedSlashes: [400, 'invalid_stream_name'],
    controlCharName: [400, 'invalid_stream_name'],
    tooLongName: [400, 'invalid_stream_name'],
    wrongMethod: [405, 'method_not_allowed'],
  });

  // A trickle that stops: ended with upload_timeout, the connection released.
  const trickle = controlledBody();
  const stalled = relay.speak('victim', trickle.body);
  trickle.write('A few words, then nothing');
  expect(await code(await within(stalled, 5000, 'stalled upload'))).toEqual([408, 'upload_timeout']);

  // Sockets: binary where text is expected, unknown message types, oversized frames.
  const binaryToPublisher = await frames('/v1/streams/victim/publish', [Buffer.from([1, 2, 3])]);
  expect(binaryToPublisher.close).toBe(4400);
  const unknownType = await frames('/v1/streams/victim/publish', [JSON.stringify({ type: 'rm -rf', seq: 7 }), 'not json at all']);
  expect(unknownType.replies.filter((r) => r.includes('"error"')).map((r) => (JSON.parse(r) as { error: { code: string } }).error.code)).toEqual(['invalid_message', 'invalid_message']);
  expect((await frames('/v1/streams/victim/publish', [Buffer.alloc(65 * 1024, 0x61).toString()])).close).toBe(1009);
  expect((await frames('/tts/websocket?cartesia_version=2026-03-01', [Buffer.alloc(65 * 1024)])).close).toBe(1009);
  expect((await frames('/v1/streams/victim/listen', ['{"type":"hello"}'])).close).toBe(4400);
  expect(await refusedUpgrade(relay.url, '/v1/streams/victim/listen?encoding=../../x', { authorization: `Bearer ${TEST_ADMIN_KEY}` })).toEqual({ status: 400, code: 'unsupported_encoding' });

  // The steady stream spoke both utterances to the end, in order, and the relay still answers.
  const ends = await within(
    (async () => {
      await listener.waitFor((m) => m.type === 'utterance_end' && m.utterance === second.utterance, 30_000);
      return listener.messages.filter(isEnd);
    })(),
    30_000,
    'both utterances',
  );
  expect(ends.map((e) => [e.utterance, e.reason])).toEqual([
    [first.utterance, 'done'],
    [second.utterance, 'done'],
  ]);
  expect(listener.audioOf(first.utterance).byteLength).toBeGreaterThan(50_000);
  expect(listener.audioOf(second.utterance).byteLength).toBeGreaterThan(50_000);
  expect((await fetch(new URL('/healthz', relay.url))).status).toBe(200);
}, 60_000);
