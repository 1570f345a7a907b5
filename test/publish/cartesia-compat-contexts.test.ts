/**
 * The Cartesia-compatible ingress as voice-agent frameworks drive it, on both providers (the Cartesia one
 * against the emulator): pipecat's pattern (one socket, a context per turn, `?api_key=` in the URL, cancel on
 * interruption) and LiveKit's (a socket per turn, closed to interrupt), with real listeners on the stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CartesiaServerMessage } from '../../shared/cartesia-messages.ts';
import type { ListenerMessage } from '../../shared/protocol.ts';
import type { CartesiaEmulator } from '../support/cartesia-emulator.ts';
import { generation, isDoneOf, rawCartesiaClient, type RawCartesiaClient } from '../support/cartesia-client.ts';
import { RIG_ADMIN_KEY, startCartesiaRig } from '../support/cartesia-rig.ts';
import type { RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY } from '../support/relay.ts';

interface Server {
  url: string;
  key: string;
  listen(stream: string): Promise<RecordedListener>;
  mintToken(stream: string): Promise<string>;
  /** The emulator behind the relay on the Cartesia provider. */
  upstream: CartesiaEmulator | null;
  close(): Promise<void>;
}

// Paced (a short lead), so a long first context is still playing to listeners while a second one generates.
const PACED = { RELAY_PLAYOUT_LEAD_MS: '200' };

const PROVIDERS: Record<string, () => Promise<Server>> = {
  espeak: async () => {
    const relay = await startTestRelay(PACED);
    return { url: relay.url, key: TEST_ADMIN_KEY, listen: (s) => relay.listen(s, LISTEN_FORMAT), mintToken: tokenFor(relay), upstream: null, close: () => relay.close() };
  },
  cartesia: async () => {
    const rig = await startCartesiaRig({ env: PACED });
    return { url: rig.relay.url, key: RIG_ADMIN_KEY, listen: (s) => rig.listen(s, LISTEN_FORMAT), mintToken: tokenFor(rig.relay, RIG_ADMIN_KEY), upstream: rig.emulator, close: () => rig.close() };
  },
};

const LISTEN_FORMAT = { encoding: 'pcm_s16le', sample_rate: '24000' };
/** Both turns play in real time once the client is served: 16-18 s at load 10-17, against the default 30 s; its waits add up to 80. */
const PIPECAT_TEST_MS = 80_000;
const LONG_TURN = 'This first answer is long on purpose. It goes on for a while, sentence after sentence, so that it is still playing. ';

/** A relay token that may speak on one stream: what a bot puts in its `?api_key=`. */
function tokenFor(relay: { url: string }, key = TEST_ADMIN_KEY): (stream: string) => Promise<string> {
  return async (stream) => {
    const response = await fetch(new URL('/v1/tokens', relay.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ streams: [stream], actions: ['speak'] }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { token: string }).token;
  };
}

let server: Server | null = null;
const clients: RawCartesiaClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.close();
  server = null;
});

async function connect(path: string): Promise<RawCartesiaClient> {
  const client = await rawCartesiaClient(server!.url, path, {});
  clients.push(client);
  return client;
}

type End = Extract<ListenerMessage, { type: 'utterance_end' }>;
const endOf = (utterance: number) => (m: ListenerMessage): m is End => m.type === 'utterance_end' && m.utterance === utterance;

/** The PCM a client received for one context, concatenated. */
function clientAudio(client: RawCartesiaClient, contextId: string): Buffer {
  return Buffer.concat(client.messages.filter((m): m is Extract<CartesiaServerMessage, { type: 'chunk' }> => m.type === 'chunk' && m.context_id === contextId).map((m) => Buffer.from(m.data, 'base64')));
}

describe.each(Object.keys(PROVIDERS))('Cartesia-compatible contexts on %s', (provider) => {
  it("pipecat's pattern: a second context generates while the first still plays; listeners hear both whole, in order", async () => {
    server = await PROVIDERS[provider]!();
    const listener = await server.listen('pipecat');
    const token = await server.mintToken('pipecat');
    const client = await connect(`/tts/websocket?api_key=${encodeURIComponent(token)}&cartesia_version=2025-04-16`);
    for (const sentence of LONG_TURN.match(/[^.]+\. /g)!) client.send(generation('turn-1', sentence, { continue: true }));
    client.send(generation('turn-1', '', { continue: false }));
    client.send(generation('turn-2', 'And a second, short turn.', { continue: true }));
    client.send(generation('turn-2', '', { continue: false }));

    await client.waitFor(isDoneOf('turn-2'), 20_000);
    // The client is served on Cartesia's timing: both contexts are done before listeners heard the first.
    expect(listener.messages.some(endOf(1))).toBe(false);
    const first = await listener.waitFor(endOf(1), 30_000);
    const second = await listener.waitFor(endOf(2), 30_000);
    expect([first.reason, second.reason]).toEqual(['done', 'done']);
    const order = listener.messages.filter((m) => m.type === 'utterance_start' || m.type === 'utterance_end').map((m) => `${m.type}:${m.utterance}`);
    expect(order).toEqual(['utterance_start:1', 'utterance_end:1', 'utterance_start:2', 'utterance_end:2']);
    // Whole: the listener heard exactly the audio its client got for each context.
    expect(Buffer.from(listener.audioOf(1)).equals(clientAudio(client, 'turn-1'))).toBe(true);
    expect(Buffer.from(listener.audioOf(2)).equals(clientAudio(client, 'turn-2'))).toBe(true);
  }, PIPECAT_TEST_MS);

  it("pipecat's interruption: a cancel stops that context for the client and its listeners, the socket goes on", async () => {
    server = await PROVIDERS[provider]!();
    const listener = await server.listen('pipecat-cut');
    const client = await connect(`/tts/websocket?api_key=${encodeURIComponent(await server.mintToken('pipecat-cut'))}`);
    client.send(generation('long', LONG_TURN, { continue: true }));
    await listener.waitFor((m) => m.type === 'utterance_start');
    client.send({ context_id: 'long', cancel: true });
    expect((await listener.waitFor(endOf(1))).reason).toBe('cancelled');
    client.send(generation('next', 'Yes?'));
    await client.waitFor(isDoneOf('next'));
    expect((await listener.waitFor(endOf(2))).reason).toBe('done');
    expect(client.messages.some((m) => m.context_id === 'long' && m.type === 'done')).toBe(false);
  });

  it('max_buffer_delay_ms is honoured: Cartesia gets it upstream; espeak speaks a half sentence at 0 and holds it otherwise', async () => {
    server = await PROVIDERS[provider]!();
    const client = await connect(`/tts/websocket?stream=buffering&api_key=${encodeURIComponent(await server.mintToken('buffering'))}`);
    const half = 'Half a sentence and';
    client.send(generation('held', half, { continue: true, max_buffer_delay_ms: 1234 }));
    client.send(generation('now', half, { continue: true, max_buffer_delay_ms: 0 }));
    await client.waitFor((m) => m.type === 'chunk' && m.context_id === 'now');
    const upstream = server.upstream?.requestsOf().filter((r) => r.transcript === half);
    // Cartesia buffers with the client's delay itself; the embedded engine buffers to the sentence's end, with no timer.
    if (upstream) expect(upstream.map((r) => r.max_buffer_delay_ms).sort()).toEqual([0, 1234]);
    else expect(client.messages.some((m) => m.type === 'chunk' && m.context_id === 'held')).toBe(false);
    client.send(generation('held', ' so it ends.', { continue: false, max_buffer_delay_ms: 1234 }));
    client.send(generation('now', '', { continue: false, max_buffer_delay_ms: 0 }));
    await client.waitFor(isDoneOf('held'));
    await client.waitFor(isDoneOf('now'));
    expect(clientAudio(client, 'held').byteLength).toBeGreaterThan(clientAudio(client, 'now').byteLength);
  });

  it("LiveKit's pattern: closing the socket mid-reply cancels it on the stream; the next turn on a new socket is spoken at once", async () => {
    server = await PROVIDERS[provider]!();
    const listener = await server.listen('livekit');
    const url = `/cartesia/livekit/tts/websocket?api_key=${encodeURIComponent(await server.mintToken('livekit'))}&cartesia_version=2025-04-16`;
    const first = await connect(url);
    for (const token of LONG_TURN.repeat(3).match(/\S+\s*/g)!) first.send(generation('reply-1', token, { continue: true }));
    await first.waitFor((m) => m.type === 'chunk');
    first.close();
    expect((await listener.waitFor(endOf(1))).reason).toBe('cancelled');

    const second = await connect(url);
    second.send(generation('reply-2', 'Sure, go ahead. ', { continue: true }));
    second.send(generation('reply-2', ' ', { continue: false }));
    // LiveKit's receive timeout is 10 s; the turn must not wait behind the interrupted one.
    await second.waitFor(isDoneOf('reply-2'), 10_000);
    expect((await listener.waitFor(endOf(2), 10_000)).reason).toBe('done');
  });
});

describe('Cartesia-compatible context lifetimes', () => {
  it('a context already done still plays out to listeners after its socket closes', async () => {
    server = await PROVIDERS.espeak!();
    const listener = await server.listen('after-close');
    const client = await connect(`/tts/websocket?stream=after-close&api_key=${encodeURIComponent(await server.mintToken('after-close'))}`);
    client.send(generation('whole', 'One sentence, still spoken after its socket closed.'));
    await client.waitFor(isDoneOf('whole'));
    client.close();
    expect((await listener.waitFor(endOf(1), 30_000)).reason).toBe('done');
  });

  it('an open context left without input expires: what it had is spoken, it ends with done, and takes no more input', async () => {
    const relay = await startTestRelay({ RELAY_COMPAT_CONTEXT_IDLE_MS: '300' });
    server = { url: relay.url, key: TEST_ADMIN_KEY, listen: (s) => relay.listen(s), mintToken: tokenFor(relay), upstream: null, close: () => relay.close() };
    const listener = await server.listen('idle');
    const client = await connect(`/tts/websocket?stream=idle&api_key=${encodeURIComponent(await server.mintToken('idle'))}`);
    client.send(generation('open', 'Left open by a client that forgot to end it.', { continue: true }));
    await client.waitFor(isDoneOf('open'));
    expect((await listener.waitFor(endOf(1))).reason).toBe('done');
    client.send(generation('open', 'Too late.', { continue: true }));
    expect(await client.waitFor((m) => m.type === 'error' && m.context_id === 'open')).toMatchObject({ status_code: 400 });
  });
});

describe('Cartesia-compatible validation and ended contexts', () => {
  it('refuses what Cartesia refuses: limits, reused ids, changed fields, fields the relay cannot honour', async () => {
    const relay = await startTestRelay({ RELAY_COMPAT_MAX_CONTEXTS: '2' });
    server = { url: relay.url, key: TEST_ADMIN_KEY, listen: (s) => relay.listen(s), mintToken: tokenFor(relay), upstream: null, close: () => relay.close() };
    const client = await connect(`/tts/websocket?stream=rules&api_key=${encodeURIComponent(await server.mintToken('rules'))}`);
    const errorOf = async (id: string) => (await client.waitFor((m) => m.type === 'error' && m.context_id === id)) as Extract<CartesiaServerMessage, { type: 'error' }>;
    client.send(generation('a', 'One.', { continue: true }));
    client.send(generation('b', 'Two.', { continue: true }));
    client.send(generation('c', 'Three.', { continue: true }));
    // The relay's own bound, refused in Cartesia's words for its concurrency limit (as the emulator passes Cartesia's on).
    expect(await errorOf('c')).toMatchObject({ status_code: 429, title: 'Too many concurrent requests', error_code: 'concurrency_limited', done: true });
    client.send(generation('a', 'Other voice.', { continue: true, voice: { mode: 'id', id: 'another' } }));
    expect((await errorOf('a')).message).toMatch(/^voice:/);
    client.send(generation('b', '', { continue: false }));
    client.send(generation('b', 'Stray.', { continue: true }));
    await client.waitFor(isDoneOf('b'));
    expect(client.messages.some((m) => m.type === 'chunk' && m.context_id === 'b')).toBe(true);
    client.send(generation('b', 'Reused.'));
    await client.waitFor((m) => m.type === 'error' && m.context_id === 'b' && /already finished/.test(m.message));
    for (const [id, extra] of [['p', { pronunciation_dict_id: 'dict' }], ['t', { use_normalized_timestamps: true }], ['u', { duration: 3 }], ['l', { language: 'xx' }], ['g', { generation_config: { speed: 3 } }], ['m', { model_id: 'whisper-1' }], ['e', { voice: { mode: 'embedding', embedding: [0.1, 0.2] } }], ['s', {}]] as const) {
      client.send(generation(id, id === 's' ? ' ' : 'Refused.', extra));
      expect((await errorOf(id)).status_code).toBe(400);
    }
    // Refused, not dropped, and the reason says what would honour them.
    expect((await errorOf('p')).message).toMatch(/^pronunciation_dict_id: .*Cartesia provider/);
    expect((await errorOf('t')).message).toMatch(/^use_normalized_timestamps: .*Cartesia provider/);
    const { model_id: _m, ...noModel } = generation('n', 'No model.');
    client.send(noModel);
    expect((await errorOf('n')).error_code).toBe('invalid_message');
  });
});
