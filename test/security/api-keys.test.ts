/**
 * Scoped API keys: long-lived credentials a Cartesia client can put in its URL (`?api_key=`, pipecat's way),
 * configured in RELAY_API_KEYS or minted at /v1/keys, revoked at once (open sockets closed, new ones refused),
 * never logged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../worker/ops/config.ts';
import { type RunningRelay, startNodeRelay } from '../../worker/runtime/node.ts';
import { generation, isDoneOf, rawCartesiaClient, TEST_CARTESIA_VERSION } from '../support/cartesia-client.ts';
import { connectListener, isEnd, refusedUpgrade } from '../support/listener-client.ts';
import { TEST_ADMIN_KEY } from '../support/relay.ts';

const CONFIGURED = 'trk_configured0123456789abcdefghijKLMNOP';

let relay: RunningRelay | undefined;
let logs: string[] = [];

afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function start(env: Record<string, string> = {}): Promise<RunningRelay> {
  logs = [];
  relay = await startNodeRelay({
    port: 0,
    host: '127.0.0.1',
    writeLog: (line) => logs.push(line),
    env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: TEST_ADMIN_KEY, LOG_LEVEL: 'debug', RELAY_API_KEYS: `pipecat:${CONFIGURED}:speak:bots/pipecat`, ...env },
  });
  return relay;
}

function admin(path: string, init: RequestInit = {}, key = TEST_ADMIN_KEY): Promise<Response> {
  return fetch(new URL(path, relay!.url), { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers } });
}

async function speakWithKey(key: string, stream: string, id: string): Promise<void> {
  const client = await rawCartesiaClient(relay!.url, `/tts/websocket?stream=${stream}&api_key=${encodeURIComponent(key)}&cartesia_version=${TEST_CARTESIA_VERSION}`, { 'cartesia-version': '' });
  client.send(generation(id, `Spoken with a key on ${stream}.`));
  await client.waitFor(isDoneOf(id));
  client.close();
}

describe('API keys', () => {
  it('a configured key in ?api_key= speaks on the one stream it is scoped to, and only there', async () => {
    await start();
    const listener = await connectListener(relay!.url, 'bots/pipecat', { key: TEST_ADMIN_KEY });
    await speakWithKey(CONFIGURED, 'bots/pipecat', 'k1');
    expect((await listener.waitFor(isEnd)).reason).toBe('done');
    listener.close();
    const elsewhere = `/tts/websocket?stream=lobby&api_key=${CONFIGURED}&cartesia_version=${TEST_CARTESIA_VERSION}`;
    expect(await refusedUpgrade(relay!.url, elsewhere)).toEqual({ status: 403, code: 'forbidden' });
    // Its scope allows speak only: listening with it is refused.
    expect(await refusedUpgrade(relay!.url, `/v1/streams/bots/pipecat/listen?token=${CONFIGURED}`)).toEqual({ status: 403, code: 'forbidden' });
  });

  it('an admin mints, lists and revokes keys; tokens and keys may not', async () => {
    await start();
    const minted = await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ streams: ['bots/*'], actions: ['speak', 'listen'], label: 'livekit' }) });
    expect(minted.status).toBe(201);
    const body = (await minted.json()) as { key: string; key_id: string; streams: string[]; source: string };
    expect(body).toMatchObject({ key: expect.stringMatching(/^trk_[\w-]{32}$/), key_id: expect.stringMatching(/^key_[0-9a-f]{16}$/), streams: ['bots/*'], source: 'minted' });
    const listed = (await (await admin('/v1/keys')).json()) as { keys: Array<Record<string, unknown>> };
    expect(listed.keys.map((k) => k.label).sort()).toEqual(['livekit', 'pipecat']);
    expect(JSON.stringify(listed)).not.toContain(body.key);
    expect(JSON.stringify(listed)).not.toContain(CONFIGURED);
    const { token } = (await (await admin('/v1/tokens', { method: 'POST', body: JSON.stringify({ streams: ['*'], actions: ['speak'] }) })).json()) as { token: string };
    expect((await admin('/v1/keys', {}, token)).status).toBe(403);
    expect((await admin('/v1/keys', {}, body.key)).status).toBe(403);
    expect((await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ streams: ['x'], actions: ['speak'], expires_in: 60 }) })).status).toBe(400);
    expect((await admin('/v1/keys/key_0000000000000000', { method: 'DELETE' })).status).toBe(404);
  });

  it('revocation is effective at once: open sockets get a 401 and close, new connections and requests are refused', async () => {
    await start();
    const { key, key_id } = (await (await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ streams: ['bots/*'], actions: ['speak', 'listen'] }) })).json()) as { key: string; key_id: string };
    await speakWithKey(key, 'bots/one', 'before');
    const compat = await rawCartesiaClient(relay!.url, `/tts/websocket?stream=bots/one&api_key=${key}`);
    const compatClosed = new Promise<number>((resolve) => compat.socket.once('close', (code) => resolve(code)));
    const listener = await connectListener(relay!.url, 'bots/one', { query: { token: key } });
    await listener.waitFor((m) => m.type === 'hello');

    const revoked = await admin(`/v1/keys/${key_id}`, { method: 'DELETE' });
    expect(await revoked.json()).toMatchObject({ key_id, revoked: true });
    expect(await compat.waitFor((m) => m.type === 'error')).toMatchObject({ status_code: 401, title: 'Unauthorized', message: expect.stringMatching(/revoked/) });
    expect(await compatClosed).toBe(4401);
    expect((await listener.closed).code).toBe(4401);

    expect(await refusedUpgrade(relay!.url, `/tts/websocket?stream=bots/one&api_key=${key}&cartesia_version=${TEST_CARTESIA_VERSION}`)).toEqual({ status: 401, code: 'unauthorized' });
    expect(await refusedUpgrade(relay!.url, `/v1/streams/bots/one/listen?token=${key}`)).toEqual({ status: 401, code: 'unauthorized' });
    const rest = await fetch(new URL('/tts/bytes?stream=bots/one', relay!.url), { method: 'POST', headers: { 'x-api-key': key, 'cartesia-version': TEST_CARTESIA_VERSION, 'content-type': 'application/json' }, body: '{}' });
    expect(rest.status).toBe(401);
    // A configured key can be stopped the same way (until a restart: the answer says so).
    const configuredId = ((await (await admin('/v1/keys')).json()) as { keys: Array<{ key_id: string; source: string }> }).keys.find((k) => k.source === 'configured')!.key_id;
    expect(await (await admin(`/v1/keys/${configuredId}`, { method: 'DELETE' })).json()).toMatchObject({ revoked: true, note: expect.stringMatching(/RELAY_API_KEYS/) });
    expect((await refusedUpgrade(relay!.url, `/tts/websocket?api_key=${CONFIGURED}&cartesia_version=${TEST_CARTESIA_VERSION}`)).status).toBe(401);

    // Never logged: not the minted key, not the configured one, though both went through URLs, headers and errors.
    expect(logs.length).toBeGreaterThan(10);
    expect(logs.filter((line) => line.includes(key) || line.includes(CONFIGURED))).toEqual([]);
    expect(logs.some((line) => line.includes(key_id) && line.includes('api key revoked'))).toBe(true);
  });

  it('revocation also stops a /tts/bytes answer still streaming', async () => {
    await start();
    const { key, key_id } = (await (await admin('/v1/keys', { method: 'POST', body: JSON.stringify({ streams: ['bots/*'], actions: ['speak'] }) })).json()) as { key: string; key_id: string };
    // Minutes of speech: past 60 s held for the stream, the answer slows to the stream's pace, so it is still streaming.
    const transcript = 'A very long answer that goes on and on, sentence after sentence, for minutes. '.repeat(40);
    const response = await fetch(new URL('/tts/bytes?stream=bots/rest', relay!.url), {
      method: 'POST',
      headers: { 'x-api-key': key, 'cartesia-version': TEST_CARTESIA_VERSION, 'content-type': 'application/json' },
      body: JSON.stringify({ model_id: 'sonic-3', transcript, voice: { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' }, output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 16000 } }),
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    expect((await admin(`/v1/keys/${key_id}`, { method: 'DELETE' })).status).toBe(200);
    const drained = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })();
    await expect(drained).rejects.toThrow();
  });

  it('refuses a malformed RELAY_API_KEYS entry, naming the entry and never the key, and a key that is an admin key', () => {
    const env = (keys: string) => ({ RELAY_ADMIN_KEY: TEST_ADMIN_KEY, RELAY_API_KEYS: keys });
    expect(() => loadConfig(env('bot:trk_short:speak:bots'), () => 'generated')).toThrow(/RELAY_API_KEYS.*entry 1: the key is trk_/);
    expect(() => loadConfig(env(`a:${CONFIGURED}:speak:x, b:${CONFIGURED}x:shout:x`), () => 'generated')).toThrow(/entry 2: actions are/);
    expect(() => loadConfig(env(`a:${CONFIGURED}:speak`), () => 'generated')).not.toThrow(new RegExp(CONFIGURED));
    const adminLike = `trk_${'a'.repeat(32)}`;
    expect(() => loadConfig({ RELAY_ADMIN_KEY: adminLike, RELAY_API_KEYS: `a:${adminLike}:speak:x` }, () => 'generated')).toThrow(/must not be an admin key/);
    expect(loadConfig(env(`a:${CONFIGURED}:speak+cancel:bots/*+lobby`), () => 'generated').apiKeys).toEqual([{ label: 'a', key: CONFIGURED, actions: ['speak', 'cancel'], streams: ['bots/*', 'lobby'] }]);
  });
});
