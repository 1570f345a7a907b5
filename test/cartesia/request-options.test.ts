import { afterEach, describe, expect, it } from 'vitest';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { type CartesiaRig, startCartesiaRig } from '../support/cartesia-rig.ts';

let rig: CartesiaRig;

afterEach(async () => {
  await rig?.close();
});

type PhonemeMessage = Extract<ListenerMessage, { type: 'phoneme_timestamps' }>;

describe('per-request Cartesia options on speak', () => {
  it('sends ?model, ?voice, ?language and generation settings upstream, and phoneme timestamps reach listeners', async () => {
    rig = await startCartesiaRig();
    const listener = await rig.listen('options');
    const response = await rig.speak('options', 'Phonemes for this one, please.', 'wait=true&model=sonic-2&voice=65b25c5d-ff07-4687-a04c-da2f43ef6fa9&language=fr&speed=1.2&volume=0.8&emotion=calm&phoneme_timestamps=true');
    expect(await response.json()).toMatchObject({ reason: 'done' });
    const [first] = rig.emulator.requestsOf().filter((r) => r.cancel !== true);
    expect(first).toMatchObject({
      model_id: 'sonic-2',
      voice: '65b25c5d-ff07-4687-a04c-da2f43ef6fa9',
      language: 'fr',
      add_phoneme_timestamps: true,
      generation_config: { speed: 1.2, volume: 0.8, emotion: 'calm' },
    });
    await listener.waitFor((m) => m.type === 'utterance_end');
    const phonemes = listener.messages.filter((m): m is PhonemeMessage => m.type === 'phoneme_timestamps').flatMap((m) => m.phonemes);
    expect(phonemes.length).toBeGreaterThan(5);
    for (let i = 1; i < phonemes.length; i++) expect(phonemes[i]!.start).toBeGreaterThanOrEqual(phonemes[i - 1]!.start);
  });

  it('refuses out-of-range options with 400 before anything is queued', async () => {
    rig = await startCartesiaRig();
    for (const query of ['speed=9', 'volume=0', 'buffering=sometimes', 'phoneme_timestamps=maybe', `model=${'m'.repeat(65)}`]) {
      const response = await rig.speak('options', 'Never spoken.', query);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    }
    expect(rig.emulator.requestsOf()).toHaveLength(0);
  });
});
