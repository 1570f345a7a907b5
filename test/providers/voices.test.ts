/**
 * Provider voice lists: espeak-ng's from its engine (inline and in its thread, the same list), Cartesia's from
 * its REST `GET /voices` walked page by page and kept; a requested voice is found by id, and an unknown one
 * gets the nearest ones named.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Voice } from '../../shared/api.ts';
import { RelayError } from '../../shared/errors.ts';
import { loadConfig } from '../../worker/ops/config.ts';
import { silentLogger } from '../../worker/ops/logger.ts';
import { CartesiaProvider } from '../../worker/providers/cartesia/provider.ts';
import { EspeakProvider } from '../../worker/providers/espeak/provider.ts';
import { findVoice, nearestVoices, unknownVoiceError } from '../../worker/providers/voice-match.ts';
import { startNodeWorker } from '../../worker/runtime/node-worker.ts';
import { type CartesiaEmulator, EMULATOR_API_KEY, type EmulatedVoice, startCartesiaEmulator } from '../support/cartesia-emulator.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function espeak(threaded: boolean): Promise<EspeakProvider> {
  const provider = new EspeakProvider(threaded ? { startWorker: startNodeWorker } : {});
  closers.push(() => provider.close());
  await provider.ready();
  return provider;
}

describe('espeak-ng voices', () => {
  it('lists every engine voice once, by its language tag, the same inline and in the thread', async () => {
    const inline = await (await espeak(false)).voices();
    const threaded = await (await espeak(true)).voices();
    expect(threaded).toEqual(inline);
    expect(inline.length).toBeGreaterThan(100);
    expect(new Set(inline.map((voice) => voice.id)).size).toBe(inline.length);
    expect(findVoice(inline, 'en-GB')).toEqual({ id: 'en-gb', name: 'English (Great Britain)', language: 'en-gb' });
    expect(findVoice(inline, 'en-us')?.name).toBe('English (America)');
    expect(findVoice(inline, 'fr-fr')?.name).toBe('French (France)');
  });

  it('speaks a listed voice with that voice, not the default', async () => {
    const provider = await espeak(false);
    const audio = async (voice?: string) => {
      const context = provider.openContext({ format: provider.preferredFormat, ...(voice ? { voice } : {}) });
      context.push('The quick brown fox.');
      context.end();
      const chunks: Uint8Array[] = [];
      for await (const event of context.events) if (event.type === 'audio') chunks.push(event.data);
      return Buffer.concat(chunks);
    };
    // espeak-ng varies a sentence by a few samples from one run to the next; voices differ by thousands.
    const american = (await audio()).byteLength;
    const apart = async (voice: string) => Math.abs((await audio(voice)).byteLength - american) / american;
    expect(await apart('en-us')).toBeLessThan(0.005);
    expect(await apart('en-gb')).toBeGreaterThan(0.02);
    expect(await apart('fr-fr')).toBeGreaterThan(0.02);
  });

  it('takes TTS_VOICE as the default voice', async () => {
    const provider = new EspeakProvider({ voice: 'en-gb' });
    closers.push(() => provider.close());
    expect(provider.defaultVoice).toBe('en-gb');
    expect(new EspeakProvider().defaultVoice).toBe('en-us');
  });
});

describe('nearest voices', () => {
  const voices: Voice[] = [
    { id: 'en-us', name: 'English (America)', language: 'en-us' },
    { id: 'en-gb', name: 'English (Great Britain)', language: 'en-gb' },
    { id: 'fr-fr', name: 'French (France)', language: 'fr-fr' },
    { id: 'de', name: 'German', language: 'de' },
  ];

  it('names the closest ids and names, related ones first', () => {
    expect(nearestVoices(voices, 'en-uk').map((v) => v.id).slice(0, 2)).toEqual(['en-us', 'en-gb']);
    expect(nearestVoices(voices, 'french').map((v) => v.id)[0]).toBe('fr-fr');
    expect(nearestVoices(voices, 'ger').map((v) => v.id)[0]).toBe('de');
    expect(findVoice(voices, 'nonsense_voice')).toBeNull();
  });

  it('makes a 400 unknown_voice that says what there is', () => {
    const error = unknownVoiceError(voices, 'en-uk');
    expect(error).toBeInstanceOf(RelayError);
    expect(error.code).toBe('unknown_voice');
    expect(error.status).toBe(400);
    expect(error.message).toContain('"en-uk"');
    expect(error.message).toContain('en-us (English (America))');
    expect(error.message).toContain('GET /v1/voices');
  });
});

describe('Cartesia voices', () => {
  async function cartesia(voices: EmulatedVoice[]): Promise<{ provider: CartesiaProvider; emulator: CartesiaEmulator }> {
    const emulator = await startCartesiaEmulator({ voices });
    const config = loadConfig({ TTS_PROVIDER: 'cartesia', CARTESIA_API_KEY: EMULATOR_API_KEY, CARTESIA_BASE_URL: emulator.url, CARTESIA_CA_FILE: emulator.caFile }, () => 'generated-admin-key-0123456789');
    const provider = new CartesiaProvider(config.cartesia, silentLogger);
    closers.push(async () => {
      await provider.close();
      await emulator.close();
    });
    return { provider, emulator };
  }

  it('walks every page of GET /voices and keeps the list', async () => {
    // More than one page of 100, so the cursor (starting_after) is followed.
    const many = Array.from({ length: 230 }, (_, i) => ({ id: `voice-${i}`, name: `Voice ${i}`, language: i % 2 ? 'fr' : 'en' }));
    const { provider } = await cartesia(many);
    const voices = await provider.voices();
    expect(voices).toEqual(many);
    expect(await provider.voices()).toBe(voices);
  });

  it('fails with upstream_error when the key is refused, and asks again next time', async () => {
    const emulator = await startCartesiaEmulator({});
    const config = loadConfig({ TTS_PROVIDER: 'cartesia', CARTESIA_API_KEY: 'sk_car_not_the_key_0123456789', CARTESIA_BASE_URL: emulator.url, CARTESIA_CA_FILE: emulator.caFile }, () => 'generated-admin-key-0123456789');
    const provider = new CartesiaProvider(config.cartesia, silentLogger);
    closers.push(async () => {
      await provider.close();
      await emulator.close();
    });
    await expect(provider.voices()).rejects.toMatchObject({ code: 'upstream_error' });
    await expect(provider.voices()).rejects.toMatchObject({ code: 'upstream_error' });
  });
});
