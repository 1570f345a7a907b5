import { afterEach, describe, expect, it } from 'vitest';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { type CartesiaRig, eventually, RIG_CARTESIA_KEY, sleep, startCartesiaRig } from '../support/cartesia-rig.ts';
import type { RecordedListener } from '../support/listener-client.ts';
import { controlledBody, within } from '../support/relay.ts';

let rig: CartesiaRig;

afterEach(async () => {
  await rig?.close();
});

type End = Extract<ListenerMessage, { type: 'utterance_end' }>;
const endOf = (utterance: number) => (m: ListenerMessage): m is End => m.type === 'utterance_end' && m.utterance === utterance;

function generationRequests(contextId?: string) {
  return rig.emulator.requestsOf(contextId).filter((r) => r.cancel !== true);
}

/** Seconds of audio a listener got for an utterance, in its format. */
function secondsHeard(listener: RecordedListener, utterance: number, bytesPerSample: number, rate: number): number {
  return listener.audioOf(utterance).byteLength / bytesPerSample / rate;
}

describe('relay on Cartesia (real SDK, emulated API)', () => {
  it('speaks a chunked upload as one continuous Cartesia context: every piece with continue, the last with continue: false', async () => {
    rig = await startCartesiaRig();
    const listener = await rig.listen('desk', { encoding: 'pcm_s16le', sample_rate: '24000' });
    const upload = controlledBody();
    const answer = rig.speak('desk', upload.body, 'wait=true');
    upload.write('The first sentence arrives on its own. ');
    await sleep(150);
    upload.write('Then a second one follows, ');
    await sleep(150);
    upload.write('and the third ends it.');
    upload.end();
    const result = (await within(answer, 10_000, 'speak')).json();
    expect(await result).toMatchObject({ reason: 'done' });

    const requests = generationRequests();
    const contexts = new Set(requests.map((r) => r.context_id));
    expect(contexts.size).toBe(1);
    const transcripts = requests.map((r) => r.transcript);
    expect(transcripts[0]).not.toBe('');
    expect(requests.slice(0, -1).every((r) => r.continue === true)).toBe(true);
    // The last piece is released by the end itself, so the two go as one request.
    expect(requests.at(-1)).toMatchObject({ continue: false });
    expect(transcripts.at(-1)).toMatch(/and the third ends it\. $/);
    expect(transcripts.join('')).toBe('The first sentence arrives on its own. Then a second one follows, and the third ends it. ');
    // Relay buffering: Cartesia must not buffer on top.
    expect(requests.every((r) => r.max_buffer_delay_ms === 0)).toBe(true);
    expect(requests[0]).toMatchObject({ model_id: 'sonic-3.5', voice: 'rig-voice', language: 'en', add_timestamps: true });
    expect(requests[0]!.output_format).toEqual({ container: 'raw', encoding: 'pcm_f32le', sample_rate: 44100 });

    const end = await listener.waitFor(endOf(1));
    expect(end.reason).toBe('done');
    const starts = listener.messages.filter((m) => m.type === 'utterance_start');
    expect(starts).toHaveLength(1);
    // One continuous utterance: frames are contiguous from sample 0.
    let expected = 0;
    for (const frame of listener.frames.filter((f) => f.utterance === 1)) {
      expect(frame.sampleOffset).toBe(expected);
      expected += frame.payload.byteLength / 2;
    }
    expect(end.samples).toBe(expected);
    expect(expected / 24000).toBeGreaterThan(3);
  });

  it('sends a whole POST as one request with continue: false, as a one-shot client would', async () => {
    rig = await startCartesiaRig();
    expect(await rig.speakAndWait('desk', 'One sentence, sent whole.')).toMatchObject({ reason: 'done' });
    const contextId = generationRequests().find((r) => r.transcript === 'One sentence, sent whole. ')?.context_id as string;
    const requests = generationRequests(contextId);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ transcript: 'One sentence, sent whole. ', continue: false });
  });

  it('lets Cartesia buffer when a stream asks for provider buffering, passing fragments through', async () => {
    rig = await startCartesiaRig();
    const upload = controlledBody();
    const answer = rig.speak('desk', upload.body, 'wait=true&buffering=provider');
    for (const token of ['Tokens ', 'arrive ', 'one ', 'at ', 'a ', 'time.']) {
      upload.write(token);
      await sleep(20);
    }
    upload.end();
    expect(await (await within(answer, 10_000, 'speak')).json()).toMatchObject({ reason: 'done' });
    const requests = generationRequests();
    expect(requests.every((r) => r.max_buffer_delay_ms === 3000)).toBe(true);
    expect(requests.filter((r) => r.transcript !== '').length).toBeGreaterThan(1);
  });

  it('maps an NDJSON flush line to a Cartesia flush request', async () => {
    rig = await startCartesiaRig();
    const listener = await rig.listen('desk');
    const body = ['{"text":"Before the flush. "}', '{"flush":true}', '{"text":"After the flush."}'].join('\n');
    const response = await rig.speak('desk', body, 'wait=true', 'application/x-ndjson');
    expect(await response.json()).toMatchObject({ reason: 'done' });
    const requests = generationRequests();
    const flushAt = requests.findIndex((r) => r.flush === true);
    expect(flushAt).toBeGreaterThan(0);
    expect(requests[flushAt]).toMatchObject({ transcript: '', continue: true, flush: true });
    expect(requests.slice(0, flushAt).map((r) => r.transcript).join('')).toBe('Before the flush. ');
    expect(rig.emulator.stats.sent.flush_done).toBe(1);
    expect((await listener.waitFor(endOf(1))).reason).toBe('done');
  });

  it('after a cancel reaches listeners, no frame of that utterance follows, and the next one plays', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { chunkDelayMs: 25 } } });
    const listener = await rig.listen('desk');
    await rig.speak('desk', 'This utterance is long enough that it is still being generated when the cancel arrives. It goes on and on.');
    await eventually(() => listener.frames.length >= 3, 5000, 'first audio');
    await rig.cancel('desk');
    const end = await listener.waitFor(endOf(1));
    expect(end.reason).toBe('cancelled');
    await eventually(() => rig.emulator.requestsOf().some((r) => r.cancel === true), 2000, 'cancel request');
    // The emulator sends a few chunks it had already generated; they must not surface.
    await sleep(300);
    const endIndex = listener.events.findIndex((e) => e.kind === 'message' && e.message === end);
    const late = listener.events.slice(endIndex + 1).filter((e) => e.kind === 'audio' && e.frame.utterance === 1);
    expect(late).toHaveLength(0);
    expect(rig.logs.some((line) => line.includes('dropped a late Cartesia frame'))).toBe(true);

    delete rig.emulator.faults.chunkDelayMs;
    expect(await rig.speakAndWait('desk', 'The next one plays.')).toMatchObject({ reason: 'done' });
  });

  it('forwards word timestamps that are monotonic and within the audio a listener hears', async () => {
    rig = await startCartesiaRig();
    const listener = await rig.listen('desk', { encoding: 'pcm_s16le', sample_rate: '16000' });
    const upload = controlledBody();
    const answer = rig.speak('desk', upload.body, 'wait=true');
    upload.write('Words have times. ');
    await sleep(100);
    upload.write('These times keep growing across sentences.');
    upload.end();
    await within(answer, 10_000, 'speak');
    await listener.waitFor(endOf(1));
    const words = listener.messages.flatMap((m) => (m.type === 'timestamps' ? m.words : []));
    expect(words.map((w) => w.word).join(' ')).toMatch(/Words have times.*These times keep growing across sentences/);
    const duration = secondsHeard(listener, 1, 2, 16000);
    let previous = 0;
    for (const word of words) {
      expect(word.start).toBeGreaterThanOrEqual(previous);
      expect(word.end).toBeGreaterThanOrEqual(word.start);
      expect(word.end).toBeLessThanOrEqual(duration + 0.01);
      previous = word.start;
    }
    // The second sentence's words are offset past the first sentence's audio.
    const these = words.find((w) => w.word === 'These')!;
    expect(these.start).toBeGreaterThan(0.5);
  });

  it('multiplexes several streams at once over one socket', async () => {
    // One socket: with room in the pool, busy sockets would make it open more and spread the contexts.
    rig = await startCartesiaRig({ env: { CARTESIA_POOL_SIZE: '1' } });
    const names = ['alpha', 'beta', 'gamma'];
    const listeners = await Promise.all(names.map((name) => rig.listen(name)));
    const results = await Promise.all(names.map((name) => rig.speakAndWait(name, `This is stream ${name}, speaking at the same time as the others.`)));
    for (const result of results) expect(result).toMatchObject({ reason: 'done' });
    expect(rig.emulator.stats.connections).toBe(1);
    expect(rig.emulator.stats.contexts).toBe(3);
    for (const listener of listeners) {
      expect((await listener.waitFor(endOf(1))).reason).toBe('done');
      expect(listener.audioOf(1).byteLength).toBeGreaterThan(44100);
    }
    // Each stream heard its own text: the timestamps name its stream.
    listeners.forEach((listener, i) => {
      const words = listener.messages.flatMap((m) => (m.type === 'timestamps' ? m.words.map((w) => w.word) : []));
      expect(words).toContain(names[i]);
    });
  });

  it('never lets the API key leave the worker except in the upstream Authorization header', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { errorAfterChunks: { chunks: 1, status_code: 500, title: 'Internal error', message: 'Boom.', error_code: 'internal' } } } });
    const listener = await rig.listen('desk');
    const failed = await rig.speakAndWait('desk', 'This one fails upstream.');
    expect(failed).toMatchObject({ reason: 'error', error: { code: 'upstream_error' } });
    rig.emulator.dropConnections();
    await rig.speakAndWait('desk', 'This one plays after a reconnect.');
    await rig.get('/healthz');
    await rig.get('/v1/streams/desk');
    const everything = [
      ...rig.logs,
      ...rig.responses,
      ...listener.messages.map((m) => JSON.stringify(m)),
      ...rig.emulator.stats.upgrades.map((u) => u.url),
      ...rig.emulator.stats.requests.map((r) => r.raw),
    ].join('\n');
    expect(rig.logs.length).toBeGreaterThan(5);
    expect(everything).not.toContain(RIG_CARTESIA_KEY);
    expect(everything).not.toContain(RIG_CARTESIA_KEY.slice(8, 24));
    for (const upgrade of rig.emulator.stats.upgrades) {
      expect(upgrade.headers.authorization).toBe(`Bearer ${RIG_CARTESIA_KEY}`);
      expect(upgrade.url).toBe('/tts/websocket');
    }
  });
});
