/**
 * Upstream refusals reach a Cartesia-compatible client as Cartesia would have sent them: a 4xx error frame from
 * Cartesia (the emulator's injected fault) keeps its status, title, message and error code through the relay, while
 * the relay's own routes keep its vocabulary (502 `upstream_error`).
 */
import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generation, isErrorOf, rawCartesiaClient } from '../support/cartesia-client.ts';
import { type CartesiaRig, RIG_ADMIN_KEY, startCartesiaRig } from '../support/cartesia-rig.ts';

const { Cartesia } = createRequire(import.meta.url)('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };
const VOICE = { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REFUSALS = [
  { status_code: 402, title: 'Payment Required', message: 'You have run out of credits.', error_code: 'credits_exhausted' },
  { status_code: 400, title: 'Bad Request', message: 'Voice not found.', error_code: null },
  { status_code: 429, title: 'Too many concurrent requests', message: "You have exceeded your plan's concurrency limit.", error_code: 'concurrency_limited' },
];

let rig: CartesiaRig;

beforeAll(async () => {
  rig = await startCartesiaRig();
});

afterAll(async () => {
  await rig.close();
});

describe('upstream 4xx through the Cartesia-compatible ingress', () => {
  it.each(REFUSALS)('an upstream $status_code error frame reaches the WebSocket client with its status and words', async (refusal) => {
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 1, ...refusal } });
    const client = await rawCartesiaClient(rig.relay.url, `/tts/websocket?stream=up-${refusal.status_code}`, { authorization: `Bearer ${RIG_ADMIN_KEY}` });
    client.send(generation('c', 'Refused upstream after a chunk.'));
    const error = await client.waitFor(isErrorOf('c'));
    client.close();
    expect(error).toEqual({ type: 'error', context_id: 'c', done: true, request_id: expect.stringMatching(UUID), ...refusal });
  });

  it('an upstream 402 ends a /tts/sse answer with an error event carrying it', async () => {
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 1, ...REFUSALS[0]! } });
    const response = await fetch(new URL('/tts/sse?stream=up-sse', rig.relay.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${RIG_ADMIN_KEY}`, 'cartesia-version': '2026-03-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...generation('s', 'Refused over SSE.'), context_id: undefined }),
    });
    const text = await response.text();
    expect(text).toMatch(/^event: error$/m);
    const event = JSON.parse(/^event: error\ndata: (.*)$/m.exec(text)![1]!) as Record<string, unknown>;
    expect(event).toMatchObject({ type: 'error', status_code: 402, title: 'Payment Required', message: 'You have run out of credits.', error_code: 'credits_exhausted' });
  });

  it("keeps the relay's own vocabulary on its own routes: 502 upstream_error naming Cartesia's answer", async () => {
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 1, ...REFUSALS[0]! } });
    const result = await rig.speakAndWait('up-relay', 'Refused for the relay route.');
    expect(result.reason).toBe('error');
    expect(result.error).toMatchObject({ code: 'upstream_error', message: expect.stringMatching(/Cartesia answered 402 \(credits_exhausted\)/) });
  });
});

describe('an upstream refusal before any audio', () => {
  const post = (path: string, transcript: string) =>
    fetch(new URL(path, rig.relay.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${RIG_ADMIN_KEY}`, 'cartesia-version': '2026-03-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...generation('x', transcript), context_id: undefined }),
    });
  const chunksSent = () => rig.emulator.stats.sent.chunk ?? 0;

  it.each(['/tts/bytes', '/tts/sse'])("answers %s with Cartesia's status and error object when its error frame comes before any chunk", async (path) => {
    const stream = `first-${path.slice(5)}`;
    const listener = await rig.listen(stream);
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 0, ...REFUSALS[0]! } });
    const before = chunksSent();
    const response = await post(`${path}?stream=${stream}`, 'Refused before the first chunk.');
    expect(response.status).toBe(402);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const { status_code: _status, ...object } = REFUSALS[0]!;
    expect(await response.json()).toEqual({ ...object, request_id: expect.stringMatching(UUID) });
    expect(chunksSent()).toBe(before);
    // The refused generation leaves the stream free: the next one is answered whole and heard.
    const next = await post(`${path}?stream=${stream}`, 'The next one plays.');
    expect(next.status).toBe(200);
    expect((await next.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    expect(await listener.waitFor((m) => m.type === 'utterance_end' && m.reason === 'done')).toBeTruthy();
  });

  it("the official SDK's generate() and generateSSE() reject with Cartesia's status and error body", async () => {
    const sdk = new Cartesia({ apiKey: RIG_ADMIN_KEY, baseURL: `${rig.relay.url}/cartesia/first-sdk` });
    const { status_code: _status, ...object } = REFUSALS[0]!;
    const refused = { status: 402, error: { ...object, request_id: expect.stringMatching(UUID) } };
    const request = { model_id: 'sonic-3', transcript: 'Refused.', voice: VOICE, output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 } } as const;
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 0, ...REFUSALS[0]! } });
    await expect(sdk.tts.generate(request)).rejects.toMatchObject(refused);
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 0, ...REFUSALS[0]! } });
    await expect(sdk.tts.generateSSE(request)).rejects.toMatchObject(refused);
  });

  it('a WebSocket context refused before any chunk gets the error frame and no audio', async () => {
    rig.emulator.setFaults({ errorAfterChunks: { chunks: 0, ...REFUSALS[2]! } });
    const client = await rawCartesiaClient(rig.relay.url, '/tts/websocket?stream=first-ws', { authorization: `Bearer ${RIG_ADMIN_KEY}` });
    client.send(generation('c', 'Refused before the first chunk.'));
    const error = await client.waitFor(isErrorOf('c'));
    client.close();
    expect(error).toEqual({ type: 'error', context_id: 'c', done: true, request_id: expect.stringMatching(UUID), ...REFUSALS[2]! });
    expect(client.messages.filter((m) => m.type === 'chunk')).toEqual([]);
  });

  it('answers /tts/bytes with Cartesia\'s status when Cartesia refuses the connection (HTTP 402 at the upgrade)', async () => {
    const refusing = await startCartesiaRig({ emulator: { faults: { rejectUpgrades: { status: 402, times: 1000 } } } });
    try {
      const response = await fetch(new URL('/tts/bytes?stream=up-bytes', refusing.relay.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${RIG_ADMIN_KEY}`, 'cartesia-version': '2026-03-01', 'content-type': 'application/json' },
        body: JSON.stringify({ ...generation('b', 'Refused at the door.'), context_id: undefined }),
      });
      expect(response.status).toBe(402);
      expect(await response.json()).toMatchObject({ title: 'Payment Required', message: expect.stringMatching(/HTTP 402/), request_id: expect.stringMatching(UUID) });
    } finally {
      await refusing.close();
    }
  });
});
