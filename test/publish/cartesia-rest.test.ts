/**
 * Cartesia's REST methods of the official SDK against the relay: generate (raw, WAV), generateSSE, voices, access
 * tokens — on both providers (the Cartesia one against the emulator upstream).
 */
import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../../shared/wav.ts';
import { generation, isDoneOf, rawCartesiaClient, TEST_CARTESIA_VERSION } from '../support/cartesia-client.ts';
import { type CartesiaEmulator, EMULATOR_VOICES } from '../support/cartesia-emulator.ts';
import { RIG_ADMIN_KEY, startCartesiaRig } from '../support/cartesia-rig.ts';
import type { RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY } from '../support/relay.ts';

const { Cartesia } = createRequire(import.meta.url)('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };

interface Server {
  url: string;
  key: string;
  listen(stream: string, query?: Record<string, string>): Promise<RecordedListener>;
  /** A GET with the admin key. */
  get(path: string): Promise<Response>;
  /** The emulator behind the relay on the Cartesia provider. */
  upstream: CartesiaEmulator | null;
  close(): Promise<void>;
}

const PROVIDERS: Record<string, () => Promise<Server>> = {
  espeak: async () => {
    const relay = await startTestRelay();
    return { url: relay.url, key: TEST_ADMIN_KEY, listen: (s, q) => relay.listen(s, q), get: (p) => relay.request(p), upstream: null, close: () => relay.close() };
  },
  cartesia: async () => {
    const rig = await startCartesiaRig();
    return { url: rig.relay.url, key: RIG_ADMIN_KEY, listen: (s, q) => rig.listen(s, q), get: (p) => rig.get(p), upstream: rig.emulator, close: () => rig.close() };
  },
};

// One of the emulator's voices (Cartesia's example voice); the embedded engine speaks its default voice for it.
const VOICE = { mode: 'id', id: EMULATOR_VOICES[0]!.id } as const;

/** A request's voice id, whether sent as a string or as `{mode, id}`. */
const voiceIdOf = (voice: unknown) => (typeof voice === 'string' ? voice : (voice as { id?: string } | undefined)?.id);

describe.each(Object.keys(PROVIDERS))('the Cartesia SDK against the relay REST endpoints on %s', (provider) => {
  let relay: Server;
  let client: CartesiaClient;

  beforeAll(async () => {
    relay = await PROVIDERS[provider]!();
    client = new Cartesia({ apiKey: relay.key, baseURL: `${relay.url}/cartesia/rest` });
  });

  afterAll(async () => {
    await relay.close();
  });

  it('generate() answers raw PCM and WAV, and the stream listener hears it', async () => {
    const listener = await relay.listen('rest', { encoding: 'pcm_s16le', sample_rate: '24000' });
    const raw = await client.tts.generate({ model_id: 'sonic-3', transcript: 'Raw bytes.', voice: VOICE, output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 } });
    const pcm = new Uint8Array(await raw.arrayBuffer());
    expect(pcm.byteLength).toBeGreaterThan(24000 * 2 * 0.3);
    const wav = await client.tts.generate({ model_id: 'sonic-3', transcript: 'A WAV file.', voice: VOICE, output_format: { container: 'wav', encoding: 'pcm_f32le', sample_rate: 16000 } });
    expect(wav.headers.get('content-type')).toBe('audio/wav');
    const parsed = parseWav(new Uint8Array(await wav.arrayBuffer()));
    expect(parsed.format).toEqual({ encoding: 'pcm_f32le', sampleRate: 16000 });
    expect(parsed.data.byteLength).toBeGreaterThan(16000 * 4 * 0.3);
    await listener.waitFor((m) => m.type === 'utterance_end' && m.utterance === 2);
    expect(Buffer.from(listener.audioOf(1)).equals(Buffer.from(pcm))).toBe(true);
    // On the Cartesia provider the text went upstream, with the voice asked for.
    const upstream = relay.upstream?.requestsOf().filter((r) => typeof r.transcript === 'string' && r.transcript !== '') ?? null;
    if (upstream) expect(upstream.map((r) => [r.transcript, voiceIdOf(r.voice)])).toEqual([['Raw bytes.', VOICE.id], ['A WAV file.', VOICE.id]]);
  });

  it('generateSSE() streams chunks, timestamps when asked, and done; a bad request is refused with 400', async () => {
    const stream = await client.tts.generateSSE({
      model_id: 'sonic-3',
      transcript: 'Events, with word times.',
      voice: VOICE,
      output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 },
      add_timestamps: true,
      context_id: 'sse-1',
    });
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type !== 'error') expect(event.context_id).toBe('sse-1');
    }
    expect(types).toContain('chunk');
    expect(types).toContain('timestamps');
    expect(types.at(-1)).toBe('done');
    await expect(
      client.tts.generate({ model_id: 'whisper-1', transcript: 'No.', voice: VOICE, output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 } }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it("voices.list() pages through the provider's voices and voices.get() finds one", async () => {
    const ids: string[] = [];
    for await (const voice of client.voices.list({ limit: 20 })) ids.push(voice.id);
    const catalog = (await (await relay.get('/v1/voices')).json()) as { voices: Array<{ id: string }> };
    expect(ids).toEqual(catalog.voices.map((v) => v.id));
    if (relay.upstream) expect(ids).toEqual(EMULATOR_VOICES.map((v) => v.id));
    const one = await client.voices.get(ids[0]!);
    expect(one.id).toBe(ids[0]);
    await expect(client.voices.get('no-such-voice')).rejects.toMatchObject({ status: 404 });
  });

  it('voices.list() applies q, is_owner and expand[]; a filter the relay cannot apply is refused with 400, not ignored', async () => {
    const all = (await client.voices.list({ limit: 100 })).data;
    const target = all[1]!;
    const q = target.name.toUpperCase();
    const found = (await client.voices.list({ q, limit: 100 })).data;
    expect(found.map((v) => v.id)).toContain(target.id);
    expect(found.length).toBeLessThan(all.length);
    for (const voice of found) expect(`${voice.name} ${voice.description} ${voice.id}`.toLowerCase()).toContain(q.toLowerCase());
    // The provider's voices belong to no organization of the caller's.
    expect((await client.voices.list({ is_owner: true })).data).toEqual([]);
    expect((await client.voices.list({ is_owner: false, limit: 100 })).data.map((v) => v.id)).toEqual(all.map((v) => v.id));
    expect((await client.voices.list({ limit: 1, expand: ['preview_file_url'] })).data).toEqual([{ ...all[0], preview_file_url: null }]);
    expect(await client.voices.get(target.id, { expand: ['preview_file_url'] })).toMatchObject({ id: target.id, preview_file_url: null });
    await expect(client.voices.list({ gender: 'feminine' })).rejects.toMatchObject({ status: 400, error: { error_code: 'bad_request', title: 'Bad Request' } });
    const unknown = await relay.get(`/voices?sort=name&cartesia_version=${TEST_CARTESIA_VERSION}`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error_code: 'bad_request', title: 'Bad Request', message: expect.stringMatching(/^sort: /), request_id: expect.any(String) });
  });

  it('accessToken.create() mints a short-lived token that speaks on the stream, as a browser would use it', async () => {
    const { token } = await client.accessToken.create({ grants: { tts: true }, expires_in: 60 });
    // Scoped to the stream of the client that minted it ('rest', from its base URL), and only to it.
    await expect(rawCartesiaClient(relay.url, `/cartesia/elsewhere/tts/websocket?access_token=${encodeURIComponent(token)}`)).rejects.toThrow(/403/);
    const listener = await relay.listen('rest');
    const browser = await rawCartesiaClient(relay.url, `/tts/websocket?access_token=${encodeURIComponent(token)}`);
    browser.send(generation('b', 'From the browser.'));
    await browser.waitFor(isDoneOf('b'));
    browser.close();
    expect((await listener.waitFor((m) => m.type === 'utterance_end')).type).toBe('utterance_end');
    await expect(client.accessToken.create({ grants: { stt: true } })).rejects.toMatchObject({ status: 400 });
  });
});
