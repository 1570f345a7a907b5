import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { decodeEnvelope, encodeEnvelope, encodeMarker, fromHex } from '../../worker/broker/envelope.ts';
import type { BrokerEvent } from '../../worker/broker/broker.ts';
import { UtteranceBuffer } from '../../worker/broker/utterance-buffer.ts';
import { connectListener, isEnd, isStart } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';

const LONG_TEXT = 'A late listener asks for the whole utterance, and gets it from the first sample on. Then it goes on live.';

describe('late join with ?from=utterance on one instance (memory hub)', () => {
  let relay: TestRelay;
  const listen = (stream: string, query?: Record<string, string>) => relay.listen(stream, query);

  beforeEach(async () => {
    relay = await startTestRelay();
  });

  afterEach(async () => {
    await relay.close();
  });

  it('replays the current utterance from its first sample, byte for byte, in any format, then goes on live', async () => {
    const early = await listen('replay');
    const earlyPhone = await listen('replay', { encoding: 'pcm_mulaw', sample_rate: '8000' });
    const speaking = relay.speak('replay', LONG_TEXT, { query: 'wait=true' });
    const start = await early.waitFor(isStart);
    while (early.frames.length < 5) await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await listen('replay', { from: 'utterance' });
    const latePhone = await listen('replay', { from: 'utterance', encoding: 'pcm_mulaw', sample_rate: '8000' });
    const live = await listen('replay');
    expect(((await (await speaking).json()) as SpeakCompleted).reason).toBe('done');
    for (const listener of [early, earlyPhone, late, latePhone, live]) await listener.waitFor(isEnd);

    expect(late.messages.filter((m) => m.type !== 'heartbeat').map((m) => m.type)).toEqual(['hello', 'utterance_start', ...Array(late.messages.filter((m) => m.type === 'timestamps').length).fill('timestamps'), 'utterance_end']);
    expect(late.frames[0]!.sampleOffset).toBe(0);
    expect(Buffer.from(late.audioOf(start.utterance)).equals(Buffer.from(early.audioOf(start.utterance)))).toBe(true);
    expect(latePhone.frames[0]!.sampleOffset).toBe(0);
    expect(Buffer.from(latePhone.audioOf(start.utterance)).equals(Buffer.from(earlyPhone.audioOf(start.utterance)))).toBe(true);
    // Without ?from=utterance a late listener starts where the utterance is now.
    expect(live.frames[0]!.sampleOffset).toBeGreaterThan(0);

    const next = (await (await relay.speak('replay', 'And the next one, for everybody.', { query: 'wait=true' })).json()) as SpeakCompleted;
    await late.waitFor((m) => isEnd(m) && m.utterance === next.utterance);
    await early.waitFor((m) => isEnd(m) && m.utterance === next.utterance);
    expect(Buffer.from(late.audioOf(next.utterance)).equals(Buffer.from(early.audioOf(next.utterance)))).toBe(true);
  });

  it('joins live between utterances, and refuses an unknown from', async () => {
    const idle = await listen('replay-idle', { from: 'utterance' });
    const result = (await (await relay.speak('replay-idle', 'Short.', { query: 'wait=true' })).json()) as SpeakCompleted;
    await idle.waitFor(isEnd);
    expect(idle.frames[0]!.sampleOffset).toBe(0);
    expect(idle.audioOf(result.utterance).byteLength).toBeGreaterThan(0);
    await expect(connectListener(relay.url, 'replay-idle', { key: TEST_ADMIN_KEY, query: { from: 'yesterday' } })).rejects.toThrow(/400/);
  });
});

describe('hub envelopes and the replay buffer', () => {
  const sender = fromHex('0123456789abcdef');

  it('carries audio as raw bytes behind a 24-byte header, and control events as JSON', () => {
    const data = new Uint8Array([0, 1, 2, 255, 13, 10, 0, 0]);
    const audio = encodeEnvelope({ type: 'audio', utterance: 7, data }, 3, 4096, sender);
    expect(audio.byteLength).toBe(24 + data.byteLength);
    expect(decodeEnvelope(audio)).toEqual({ event: { type: 'audio', utterance: 7, data }, seq: 3, offset: 4096, sender: '0123456789abcdef' });
    const end: BrokerEvent = { type: 'utterance_end', utterance: 7, utterance_id: 'utt_x', reason: 'error', error: { code: 'instance_lost', message: 'gone' } };
    expect(decodeEnvelope(encodeEnvelope(end, 9, 0, sender))?.event).toEqual(end);
    expect(decodeEnvelope(encodeMarker(5, sender))).toEqual({ marker: 5, sender: '0123456789abcdef' });
    expect(decodeEnvelope(new Uint8Array(10))).toBeNull();
  });

  it('keeps the last bytes of the current utterance within its bound and says how much it skipped', () => {
    const buffer = new UtteranceBuffer(1000);
    buffer.append({ type: 'utterance_start', utterance: 1, utterance_id: 'u1' }, 0);
    for (let seq = 1; seq <= 5; seq++) buffer.append({ type: 'audio', utterance: 1, data: new Uint8Array(400) }, seq);
    const snapshot = buffer.snapshot()!;
    expect(snapshot.start.utterance_id).toBe('u1');
    expect(snapshot.events).toHaveLength(2);
    expect(snapshot.skippedBytes).toBe(1200);
    buffer.append({ type: 'utterance_end', utterance: 1, utterance_id: 'u1', reason: 'done' }, 6);
    expect(buffer.snapshot()).toBeNull();
  });
});
