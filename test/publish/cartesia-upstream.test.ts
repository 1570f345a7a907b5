import { createRequire } from 'node:module';
import type { Cartesia as CartesiaClient } from '@cartesia/cartesia-js';
import type { WebsocketResponse } from '@cartesia/cartesia-js/resources/tts';
import { afterEach, describe, expect, it } from 'vitest';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { generation, isDoneOf, rawCartesiaClient } from '../support/cartesia-client.ts';
import { type CartesiaRig, RIG_ADMIN_KEY, RIG_CARTESIA_KEY, startCartesiaRig } from '../support/cartesia-rig.ts';
import { within } from '../support/relay.ts';
import { connectTLSListener, TEST_CA, TEST_CERT_FILE, TEST_KEY_FILE } from './tls-listener.ts';

const { Cartesia } = createRequire(import.meta.url)('@cartesia/cartesia-js') as { Cartesia: typeof CartesiaClient };

let rig: CartesiaRig | null = null;

afterEach(async () => {
  await rig?.close();
  rig = null;
});

describe('the Cartesia ingress in front of the Cartesia provider', () => {
  it("speaks the client's context through Cartesia with the relay's own key, which the client never sees", async () => {
    rig = await startCartesiaRig({ env: { TLS_CERT_FILE: TEST_CERT_FILE, TLS_KEY_FILE: TEST_KEY_FILE } });
    const listener = await connectTLSListener(rig.relay.url, 'upstream', RIG_ADMIN_KEY, { encoding: 'pcm_s16le', sample_rate: '16000' });
    await listener.waitFor((m) => m.type === 'hello');

    const received: string[] = [];
    const client = new Cartesia({ apiKey: RIG_ADMIN_KEY, baseURL: `${rig.relay.url}/cartesia/upstream` });
    const ws = await client.tts.websocket({ ca: TEST_CA });
    ws.on('error', () => {});
    (ws.socket as unknown as { addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void }).addEventListener('message', (event) =>
      received.push(String(event.data)),
    );
    try {
      const ctx = ws.context({
        model_id: 'sonic-3',
        voice: { mode: 'id', id: 'client-voice' },
        output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 16000 },
      });
      await ctx.push({ transcript: 'Through two hops, ', generation_config: { speed: 1.2 } });
      await ctx.push({ transcript: 'and back again.' });
      await ctx.no_more_inputs();
      const events: WebsocketResponse[] = [];
      await within(
        (async () => {
          for await (const event of ctx.receive()) events.push(event);
        })(),
        15_000,
        'SDK receive()',
      );
      expect(events.at(-1)?.type).toBe('done');
      const audio = Buffer.concat(events.flatMap((e) => (e.type === 'chunk' ? [e.audio!] : [])));
      const end = (await listener.waitFor((m) => m.type === 'utterance_end')) as Extract<ListenerMessage, { type: 'utterance_end' }>;
      expect(end.reason).toBe('done');
      expect(audio.byteLength).toBeGreaterThan(0);
      expect(audio.equals(listener.audioOf(end.utterance))).toBe(true);
    } finally {
      ws.close();
      listener.close();
    }

    // Upstream, the emulator saw the relay's key and the client's voice and generation settings.
    const upgrades = rig.emulator.stats.upgrades.filter((u) => u.status === 101);
    expect(upgrades.length).toBeGreaterThan(0);
    expect(upgrades.every((u) => u.headers.authorization === `Bearer ${RIG_CARTESIA_KEY}`)).toBe(true);
    const requests = rig.emulator.requestsOf() as Array<{ voice?: { id?: string } | string; generation_config?: { speed?: number }; transcript?: string }>;
    const spoken = requests.map((r) => r.transcript ?? '').join('');
    expect(spoken).toContain('Through two hops');
    expect(requests.some((r) => (typeof r.voice === 'string' ? r.voice : r.voice?.id) === 'client-voice')).toBe(true);
    expect(requests.some((r) => r.generation_config?.speed === 1.2)).toBe(true);
    // Downstream, not one frame carried it.
    expect(received.length).toBeGreaterThan(2);
    expect(received.some((frame) => frame.includes(RIG_CARTESIA_KEY) || frame.includes('RIGSECRET'))).toBe(false);
  });

  it('honours pronunciation_dict_id and use_normalized_timestamps by passing them upstream, on the WebSocket and on /tts/bytes', async () => {
    rig = await startCartesiaRig();
    const options = { pronunciation_dict_id: 'dict-of-the-account', use_normalized_timestamps: true };
    const client = await rawCartesiaClient(rig.relay.url, '/tts/websocket?stream=dict', { authorization: `Bearer ${RIG_ADMIN_KEY}` });
    client.send(generation('d', 'Said as the dictionary says, ', { ...options, add_timestamps: true, continue: true }));
    client.send(generation('d', 'with normalized word times.', { ...options, add_timestamps: true }));
    await client.waitFor(isDoneOf('d'));
    client.close();
    expect(client.messages.some((m) => m.type === 'timestamps')).toBe(true);
    const upstream = rig.emulator.requestsOf().filter((r) => typeof r.transcript === 'string');
    expect(upstream.length).toBeGreaterThan(1);
    expect(upstream.every((r) => r.pronunciation_dict_id === 'dict-of-the-account' && r.use_normalized_timestamps === true)).toBe(true);

    const before = rig.emulator.stats.requests.length;
    const response = await fetch(new URL('/tts/bytes?stream=dict', rig.relay.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${RIG_ADMIN_KEY}`, 'cartesia-version': '2026-03-01', 'content-type': 'application/json' },
      body: JSON.stringify({ ...generation('b', 'Bytes with the dictionary.', { pronunciation_dict_id: 'dict-of-the-account' }), context_id: undefined }),
    });
    expect(response.status).toBe(200);
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const rest = rig.emulator.stats.requests.slice(before).map((r) => r.json as Record<string, unknown>).filter((r) => typeof r.transcript === 'string');
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((r) => r.pronunciation_dict_id === 'dict-of-the-account' && r.use_normalized_timestamps === undefined)).toBe(true);
  });
});
