/** Cartesia's REST methods of the official SDK against the relay: generate (raw, WAV), generateSSE, voices, access tokens. */
import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../../shared/wav.ts';
import { generation, isDoneOf, rawCartesiaClient } from '../support/cartesia-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';

const { Cartesia } = createRequire(import.meta.url)('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };
const VOICE = { mode: 'id', id: 'a0e99841-438c-4a64-b679-ae501e7d6091' } as const;

let relay: TestRelay;
let client: CartesiaClient;

beforeAll(async () => {
  relay = await startTestRelay();
  client = new Cartesia({ apiKey: TEST_ADMIN_KEY, baseURL: `${relay.url}/cartesia/rest` });
});

afterAll(async () => {
  await relay.close();
});

describe('the Cartesia SDK against the relay REST endpoints', () => {
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
    const catalog = (await (await relay.request('/v1/voices')).json()) as { voices: Array<{ id: string }> };
    expect(ids).toEqual(catalog.voices.map((v) => v.id));
    const one = await client.voices.get(ids[0]!);
    expect(one.id).toBe(ids[0]);
    await expect(client.voices.get('no-such-voice')).rejects.toMatchObject({ status: 404 });
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
