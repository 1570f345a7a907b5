/**
 * The compatible ingress answers as Cartesia does when something is wrong: `Cartesia-Version` required and checked,
 * REST errors as Cartesia's error object `{error_code, title, message, request_id}`, WebSocket and SSE error events
 * with `request_id`.
 */
import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generation, isDoneOf, isErrorOf, rawCartesiaClient, TEST_CARTESIA_VERSION } from '../support/cartesia-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';

const { Cartesia } = createRequire(import.meta.url)('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AUTH = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const BODY = { model_id: 'sonic-3', transcript: 'Hello.', voice: { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' }, output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 } };

let relay: TestRelay;

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await relay.close();
});

/** The status, error code and request id of a refused WebSocket upgrade (Node's adapter drops the body: headers carry them). */
function refusal(path: string, headers: Record<string, string>): Promise<{ status: number; code: unknown; requestId: unknown }> {
  const socket = new WebSocket(new URL(path, relay.url.replace(/^http/, 'ws')), { headers });
  return new Promise((resolve, reject) => {
    socket.once('open', () => reject(new Error('upgrade unexpectedly accepted')));
    socket.once('error', () => {});
    socket.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, code: res.headers['x-error-code'], requestId: res.headers['x-request-id'] });
      res.destroy();
    });
  });
}

async function post(path: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; body: Record<string, unknown>; requestId: string | null }> {
  const response = await fetch(new URL(path, relay.url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, requestId: response.headers.get('x-request-id') };
}

function cartesiaError(status: number, title: string, message: RegExp) {
  return { status, body: { error_code: expect.any(String), title, message: expect.stringMatching(message), request_id: expect.stringMatching(UUID) } };
}

describe('Cartesia-Version', () => {
  it('refuses a WebSocket without one or with an unknown one (400), after the key (401 first)', async () => {
    expect(await refusal('/tts/websocket', AUTH)).toMatchObject({ status: 400, code: 'bad_request', requestId: expect.stringMatching(UUID) });
    expect(await refusal('/tts/websocket?cartesia_version=2025-01-01', AUTH)).toMatchObject({ status: 400, code: 'bad_request' });
    expect(await refusal('/tts/websocket', { 'x-api-key': 'wrong-key-0123456789' })).toMatchObject({ status: 401, code: 'unauthorized' });
    const unknown = await post('/tts/bytes', { ...AUTH, 'cartesia-version': '2025-01-01' }, BODY);
    expect(unknown).toMatchObject(cartesiaError(400, 'Bad Request', /supported versions are 2024-06-10, .*2026-08-14/));
  });

  it('takes a known version from the header or ?cartesia_version= (the query wins, as on Cartesia)', async () => {
    for (const [path, version] of [['/tts/websocket?stream=v1', '2024-06-10'], ['/tts/websocket?stream=v2&cartesia_version=2026-08-14', 'bogus']] as const) {
      const client = await rawCartesiaClient(relay.url, path, { ...AUTH, 'cartesia-version': version });
      client.send(generation('c', 'Versioned.'));
      await client.waitFor(isDoneOf('c'));
      client.close();
    }
  });

  it('refuses REST calls without one: /tts/bytes, /tts/sse, /voices, /access-token', async () => {
    const headers = { ...AUTH, 'cartesia-version': '' };
    for (const path of ['/tts/bytes', '/tts/sse', '/access-token']) {
      expect(await post(path, headers, BODY)).toMatchObject(cartesiaError(400, 'Bad Request', /Cartesia-Version/));
    }
    const voices = await fetch(new URL('/voices', relay.url), { headers: AUTH });
    expect(voices.status).toBe(400);
    expect(await voices.json()).toMatchObject({ title: 'Bad Request', request_id: expect.stringMatching(UUID) });
  });
});

describe("errors in Cartesia's shape", () => {
  it('answers REST errors as Cartesia\'s error object, request_id as in X-Request-Id', async () => {
    const headers = { ...AUTH, 'cartesia-version': TEST_CARTESIA_VERSION };
    const badModel = await post('/tts/bytes', headers, { ...BODY, model_id: 'whisper-1' });
    expect(badModel).toMatchObject(cartesiaError(400, 'Bad Request', /model_id/));
    expect(badModel.body.request_id).toBe(badModel.requestId);
    // Options the relay cannot honour are refused, not dropped: on the embedded engine even those Cartesia would take.
    for (const [field, value] of [['save', true], ['pronunciation_dict_id', 'dict'], ['duration', 2], ['normalization', 'none']] as const) {
      expect(await post('/tts/bytes', headers, { ...BODY, [field]: value })).toMatchObject(cartesiaError(400, 'Bad Request', new RegExp(`^${field}: `)));
    }
    expect(await post('/tts/sse', headers, { ...BODY, use_normalized_timestamps: true })).toMatchObject(cartesiaError(400, 'Bad Request', /^use_normalized_timestamps: /));
    expect(await post('/tts/sse', { 'x-api-key': 'wrong-key-0123456789', 'cartesia-version': TEST_CARTESIA_VERSION }, BODY)).toMatchObject(cartesiaError(401, 'Unauthorized', /not valid/));
    expect(await post('/access-token', headers, { grants: { stt: true } })).toMatchObject(cartesiaError(400, 'Bad Request', /text to speech only/));
    const missing = await fetch(new URL('/voices/no-such-voice', relay.url), { headers });
    expect({ status: missing.status, body: await missing.json() }).toMatchObject(cartesiaError(404, 'Not Found', /No voice no-such-voice/));
  });

  it("gives the SDK Cartesia's error object: status, title, message and request_id", async () => {
    const client = new Cartesia({ apiKey: TEST_ADMIN_KEY, baseURL: `${relay.url}/cartesia/errors`, maxRetries: 0 });
    const error = (await client.tts.generate({ ...BODY, model_id: 'whisper-1' } as never).catch((e: unknown) => e)) as { status: number; error: Record<string, unknown>; message: string };
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ title: 'Bad Request', request_id: expect.stringMatching(UUID) });
    expect(error.message).toMatch(/^400 model_id/);
  });

  it('sends WebSocket error frames with title, message, status_code, done and request_id', async () => {
    const client = await rawCartesiaClient(relay.url, '/tts/websocket?stream=frames', AUTH);
    client.send(generation('bad', 'Refused.', { model_id: 'whisper-1' }));
    const error = await client.waitFor(isErrorOf('bad'));
    client.close();
    expect(error).toMatchObject({ type: 'error', context_id: 'bad', status_code: 400, title: 'Bad Request', done: true, message: expect.stringMatching(/model_id/), request_id: expect.stringMatching(UUID) });
  });
});
