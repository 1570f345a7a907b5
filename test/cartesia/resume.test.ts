/**
 * Upstream resume: an utterance whose Cartesia socket dies mid-speech goes on in a new context from the first
 * word whose audio had not all arrived, so listeners hear every word once; a socket that keeps dying ends it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { type CartesiaRig, eventually, startCartesiaRig } from '../support/cartesia-rig.ts';
import type { RecordedListener } from '../support/listener-client.ts';

let rig: CartesiaRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

type End = Extract<ListenerMessage, { type: 'utterance_end' }>;
const LONG = 'This sentence is long enough to need a good number of audio chunks, so the socket dies while it speaks.';
// A busy machine may keep the emulator's first chunk for seconds: only the injected fault should interrupt.
const PATIENT = { CARTESIA_CONTEXT_TIMEOUT_MS: '20000', RELAY_PROVIDER_TIMEOUT_MS: '30000' };
// Paced a little ahead of real time, so audio past the cut is still in the relay when the socket dies.
const PACED = { RELAY_PLAYOUT_LEAD_MS: '300', ...PATIENT };

function endOf(listener: RecordedListener, utterance: number): Promise<End> {
  return listener.waitFor((m): m is End => m.type === 'utterance_end' && m.utterance === utterance, 20_000) as Promise<End>;
}

function wordsHeard(listener: RecordedListener, utterance: number) {
  return listener.messages.flatMap((m) => (m.type === 'timestamps' && m.utterance === utterance ? m.words : []));
}

const normalise = (word: string) => word.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');

function transcriptsOf(emulator: CartesiaRig['emulator']): string[] {
  const byContext = new Map<string, string>();
  for (const request of emulator.requestsOf()) {
    if (typeof request.context_id !== 'string' || typeof request.transcript !== 'string') continue;
    byContext.set(request.context_id, (byContext.get(request.context_id) ?? '') + request.transcript);
  }
  return [...byContext.values()];
}

describe('upstream resume', () => {
  it('a socket dropped mid-speech: the utterance goes on from the first word not fully received, every word heard once', async () => {
    // One context per socket: the control utterance below must not share the socket that dies.
    rig = await startCartesiaRig({ emulator: { faults: { dropAfterChunks: 40 } }, env: { ...PACED, CARTESIA_CONTEXTS_PER_SOCKET: '1', CARTESIA_POOL_SIZE: '2' } });
    const listener = await rig.listen('desk', { encoding: 'pcm_s16le', sample_rate: '16000' });
    expect((await rig.speak('desk', LONG)).status).toBe(202);
    // The same text without a fault, on another stream alongside (the fault is the first context's).
    await eventually(() => rig!.emulator.stats.contexts === 1, 10_000, 'the first context');
    const control = rig.speakAndWait('aside', LONG);
    const first = await endOf(listener, 1);
    expect(first.reason).toBe('done');

    const transcripts = transcriptsOf(rig.emulator).filter((t) => t.trim() !== LONG);
    expect(transcripts, JSON.stringify(transcriptsOf(rig.emulator))).toHaveLength(1);
    const resumed = transcripts[0]!.trim();
    // The new context speaks a tail of the text that starts at a word: what was heard is not spoken again.
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.length).toBeLessThan(LONG.length - 20);
    expect(LONG.endsWith(resumed)).toBe(true);
    expect(LONG[LONG.length - resumed.length - 1]).toBe(' ');

    const words = wordsHeard(listener, 1);
    expect(words.map((w) => normalise(w.word))).toEqual(LONG.split(/\s+/).map(normalise));
    for (let i = 1; i < words.length; i++) expect(words[i]!.start).toBeGreaterThanOrEqual(words[i - 1]!.start);
    // The audio ends where the last word does: nothing doubled, nothing missing.
    expect(first.samples / 16000).toBeCloseTo(words.at(-1)!.end, 1);
    const resume = rig.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.msg === 'resuming an utterance on a new provider context');
    expect(resume).toMatchObject({ resume: 1, reason: 'upstream_unavailable' });
    expect(resume!.dropped_seconds as number).toBeGreaterThan(0);

    // Spoken without a fault, the same text lasts about as long.
    const whole = await control;
    expect(whole.reason).toBe('done');
    expect(Math.abs(whole.audio_seconds - first.samples / 16000)).toBeLessThan(0.6);
  }, 40_000);

  it('a provider without word timestamps: a socket dropped after a flush goes on with the text not yet spoken, the whole text heard once', async () => {
    // The fault is the first context's; the control run on another stream speaks the same lines without it.
    rig = await startCartesiaRig({ emulator: { wordTimestamps: false, faults: { dropAfterFlush: true } }, env: PATIENT });
    const listener = await rig.listen('desk', { encoding: 'pcm_s16le', sample_rate: '16000' });
    const first = 'The first line is spoken and flushed before the socket dies.';
    const second = ' The second line comes after the drop and is spoken once.';
    const encoder = new TextEncoder();
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (controller) => void (feed = controller) });
    const answer = rig.speak('desk', body, 'wait=true', 'application/x-ndjson');
    feed.enqueue(encoder.encode(`${JSON.stringify({ text: first, flush: true })}\n`));
    await eventually(() => rig!.logs.some((line) => line.includes('resuming an utterance on a new provider context')), 20_000, 'the resume after the drop');
    feed.enqueue(encoder.encode(`${JSON.stringify({ text: second })}\n`));
    feed.close();
    const result = (await (await answer).json()) as { reason: string; audio_seconds: number };
    expect(result.reason).toBe('done');
    expect((await endOf(listener, 1)).reason).toBe('done');
    expect(listener.messages.some((m) => m.type === 'timestamps')).toBe(false);

    // The first context spoke the first line; the new one only what came after it, nothing again.
    expect(transcriptsOf(rig.emulator).map((t) => t.trim())).toEqual([first, second.trim()]);
    const control = `${JSON.stringify({ text: first, flush: true })}\n${JSON.stringify({ text: second })}\n`;
    const whole = (await (await rig.speak('aside', control, 'wait=true', 'application/x-ndjson')).json()) as { reason: string; audio_seconds: number };
    expect(whole.reason).toBe('done');
    expect(Math.abs(result.audio_seconds - whole.audio_seconds)).toBeLessThan(0.05);
    expect(Math.abs((await endOf(listener, 1)).samples / 16000 - whole.audio_seconds)).toBeLessThan(0.05);
  }, 40_000);

  it('a socket that keeps dying ends the utterance with upstream_unavailable after three resumes; the queue plays on', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { dropContexts: { afterChunks: 2, times: 4 } } }, env: PATIENT });
    const listener = await rig.listen('desk');
    expect((await rig.speak('desk', LONG)).status).toBe(202);
    expect((await rig.speak('desk', 'The queued one still plays.')).status).toBe(202);
    expect(await endOf(listener, 1)).toMatchObject({ reason: 'error', error: { code: 'upstream_unavailable' } });
    expect((await endOf(listener, 2)).reason).toBe('done');
    expect(rig.logs.filter((line) => line.includes('resuming an utterance on a new provider context'))).toHaveLength(3);
    expect(transcriptsOf(rig.emulator)).toHaveLength(5);
  }, 40_000);

  it('a flush owed when the socket dies is answered once, after the text before it is heard', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { dropAfterChunks: 4 } }, env: PATIENT });
    const listener = await rig.listen('desk');
    const body = `${JSON.stringify({ text: LONG, flush: true })}\n${JSON.stringify({ text: ' And after the flush.' })}\n`;
    const response = await rig.speak('desk', body, 'wait=true', 'application/x-ndjson');
    expect(await response.json()).toMatchObject({ reason: 'done' });
    expect((await endOf(listener, 1)).reason).toBe('done');
    const words = wordsHeard(listener, 1).map((w) => normalise(w.word));
    expect(words).toEqual(`${LONG} And after the flush.`.split(/\s+/).map(normalise));
    expect(transcriptsOf(rig.emulator)).toHaveLength(2);
  }, 40_000);
});
