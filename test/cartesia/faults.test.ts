import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { type CartesiaRig, eventually, sleep, startCartesiaRig } from '../support/cartesia-rig.ts';
import type { RecordedListener } from '../support/listener-client.ts';

let rig: CartesiaRig;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});

afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

afterEach(async () => {
  await rig?.close();
  expect(unhandled).toEqual([]);
});

type End = Extract<ListenerMessage, { type: 'utterance_end' }>;

function endOf(listener: RecordedListener, utterance: number, ms = 10_000): Promise<End> {
  return listener.waitFor((m): m is End => m.type === 'utterance_end' && m.utterance === utterance, ms) as Promise<End>;
}

const LONG = 'This sentence is long enough to need a good number of audio chunks from the emulator.';

/** Utterance 1 meets the fault with utterance 2 queued behind it; then utterance 3 is spoken afresh. */
async function throughFault(listener: RecordedListener): Promise<{ first: End; queued: End; next: End }> {
  expect((await rig.speak('desk', LONG)).status).toBe(202);
  expect((await rig.speak('desk', 'The queued one still plays.')).status).toBe(202);
  const first = await endOf(listener, 1);
  const queued = await endOf(listener, 2);
  await rig.speak('desk', 'And so does the next.');
  const next = await endOf(listener, 3);
  return { first, queued, next };
}

describe('Cartesia faults: every stream keeps working', () => {
  it('socket dropped mid-utterance: the utterance resumes on a new socket, and the queue plays on', async () => {
    // A busy machine may keep the emulator's first chunk for seconds: only the injected drop should interrupt.
    rig = await startCartesiaRig({ emulator: { faults: { dropAfterChunks: 3 } }, env: { CARTESIA_CONTEXT_TIMEOUT_MS: '20000', RELAY_PROVIDER_TIMEOUT_MS: '30000' } });
    const listener = await rig.listen('desk');
    const { first, queued, next } = await throughFault(listener);
    expect(first.reason).toBe('done');
    expect(rig.logs.some((line) => line.includes('resuming an utterance on a new provider context'))).toBe(true);
    expect(queued.reason).toBe('done');
    expect(next.reason).toBe('done');
    expect(rig.emulator.stats.connections).toBe(2);
  });

  it('upstream stalls: the context times out, the silent socket is replaced and the utterance resumes on it', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { stallAfterChunks: 2 } }, env: { CARTESIA_CONTEXT_TIMEOUT_MS: '2000' } });
    const listener = await rig.listen('desk');
    const { first, queued, next } = await throughFault(listener);
    expect(first.reason).toBe('done');
    expect(rig.logs.some((line) => line.includes('"reason":"upstream_timeout"') && line.includes('resuming an utterance'))).toBe(true);
    expect(queued.reason).toBe('done');
    expect(next.reason).toBe('done');
    expect(rig.logs.some((line) => line.includes('terminating a Cartesia socket'))).toBe(true);
    // Two at least: on a busy machine the resumed context may meet the short timeout too.
    expect(rig.emulator.stats.connections).toBeGreaterThanOrEqual(2);
  });

  it('error frame: upstream_error with Cartesia’s title and message, the socket stays in use', async () => {
    rig = await startCartesiaRig({
      emulator: { faults: { errorAfterChunks: { chunks: 2, status_code: 500, title: 'Internal Server Error', message: 'The model crashed.', error_code: 'internal_error' } } },
    });
    const listener = await rig.listen('desk');
    const { first, queued, next } = await throughFault(listener);
    expect(first).toMatchObject({ reason: 'error', error: { code: 'upstream_error', message: expect.stringMatching(/500.*internal_error.*The model crashed/) } });
    expect(queued.reason).toBe('done');
    expect(next.reason).toBe('done');
    expect(rig.emulator.stats.connections).toBe(1);
  });

  it('429 error frame: upstream_rate_limited, and the next context waits out the cooldown instead of retrying at once', async () => {
    rig = await startCartesiaRig({
      emulator: { faults: { errorAfterChunks: { chunks: 0, status_code: 429, title: 'Too many concurrent requests', message: 'Concurrency limit.', error_code: 'concurrency_limited' } } },
      env: { CARTESIA_RATE_LIMIT_COOLDOWN_MS: '400' },
    });
    const listener = await rig.listen('desk');
    const { first, queued, next } = await throughFault(listener);
    expect(first).toMatchObject({ reason: 'error', error: { code: 'upstream_rate_limited' } });
    expect(queued.reason).toBe('done');
    expect(next.reason).toBe('done');
    const contexts = rig.emulator.stats.requests.filter((r) => (r.json as { transcript?: string }).transcript?.startsWith('The queued'));
    expect(contexts).toHaveLength(1);
  });

  it('slow chunks: the utterance is slow but whole', async () => {
    rig = await startCartesiaRig({ emulator: { chunkMs: 100, faults: { chunkDelayMs: 60 } } });
    const listener = await rig.listen('desk', { encoding: 'pcm_s16le', sample_rate: '16000' });
    const started = performance.now();
    const result = await rig.speakAndWait('desk', 'Slow chunks still make a whole sentence.');
    expect(result.reason).toBe('done');
    const chunks = rig.emulator.stats.sent.chunk ?? 0;
    expect(performance.now() - started).toBeGreaterThan(chunks * 50);
    const end = await endOf(listener, 1);
    expect(end.reason).toBe('done');
    expect(end.samples / 16000).toBeCloseTo(result.audio_seconds, 1);
  });

  it('429 at the upgrade with a short Retry-After: the utterance waits it out and plays, with one retry and no storm', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { rejectUpgrades: { status: 429, times: 1, retryAfterSeconds: 1 } } } });
    const listener = await rig.listen('desk');
    const result = await rig.speakAndWait('desk', 'This waits for the rate limit to lift.');
    expect(result.reason).toBe('done');
    expect(result.first_audio_ms).toBeGreaterThan(500);
    expect(rig.emulator.stats.upgrades.map((u) => u.status)).toEqual([429, 101]);
    const [refused, accepted] = rig.emulator.stats.upgrades;
    expect(accepted!.at - refused!.at).toBeGreaterThanOrEqual(950);
    expect((await endOf(listener, 1)).reason).toBe('done');
  });

  it('429 at the upgrade with a long Retry-After: upstream_rate_limited at once, and speech resumes after it', async () => {
    rig = await startCartesiaRig({
      emulator: { faults: { rejectUpgrades: { status: 429, times: 1, retryAfterSeconds: 2 } } },
      env: { CARTESIA_MAX_WAIT_MS: '300' },
    });
    const listener = await rig.listen('desk');
    await eventually(() => rig.emulator.stats.upgrades.length === 1, 3000, 'the first upgrade');
    const response = await rig.speak('desk', 'This meets the rate limit.', 'wait=true');
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ reason: 'error', error: { code: 'upstream_rate_limited' } });
    expect(await endOf(listener, 1)).toMatchObject({ reason: 'error', error: { code: 'upstream_rate_limited' } });
    await sleep(300);
    expect(rig.emulator.stats.upgrades).toHaveLength(1);
    await eventually(() => rig.provider.pool.openSockets === 1, 4000, 'the socket after Retry-After');
    expect(await rig.speakAndWait('desk', 'Now it plays.')).toMatchObject({ reason: 'done' });
    expect(rig.emulator.stats.upgrades.map((u) => u.status)).toEqual([429, 101]);
  });

  it('Cartesia closes an idle socket: nothing is lost and the next utterance plays on a new socket', async () => {
    rig = await startCartesiaRig();
    const listener = await rig.listen('desk');
    expect(await rig.speakAndWait('desk', 'Before the idle close.')).toMatchObject({ reason: 'done' });
    // Idle closes only between the utterances: a 300 ms idle clock would otherwise also run out under a busy
    // machine's slow synthesis, which is a drop, not an idle close.
    rig.emulator.setIdleClose(300);
    await eventually(() => rig.emulator.stats.closes.some((c) => c.reason === 'connection idle timeout'), 3000, 'idle close');
    // The relay's side of the close, before the next utterance: until its close frame is read the socket looks open.
    await eventually(() => rig.logs.some((line) => line.includes('Cartesia closed an idle socket')), 3000, 'the relay to see the idle close');
    rig.emulator.setIdleClose(300_000);
    expect(await rig.speakAndWait('desk', 'After the idle close.')).toMatchObject({ reason: 'done' });
    expect((await endOf(listener, 2)).reason).toBe('done');
    expect(rig.emulator.stats.connections).toBeGreaterThanOrEqual(2);
    expect(rig.logs.some((line) => line.includes('Cartesia connection dropped'))).toBe(false);
  });

  it('garbage frames (not JSON, unknown types, malformed chunks, binary) are logged and skipped', async () => {
    rig = await startCartesiaRig({ emulator: { faults: { garbageBeforeChunks: 3 } } });
    const listener = await rig.listen('desk');
    const { first, queued, next } = await throughFault(listener);
    expect(first.reason).toBe('done');
    expect(queued.reason).toBe('done');
    expect(next.reason).toBe('done');
    expect(rig.emulator.stats.sent.garbage).toBe(3);
    expect(rig.logs.filter((line) => line.includes('skipped an unrecognised Cartesia message')).length).toBeGreaterThanOrEqual(3);
    expect(rig.logs.some((line) => line.includes('skipped a malformed Cartesia frame'))).toBe(true);
  });

  it('a socket lost before Cartesia answered anything is replayed on a new socket, unnoticed by listeners', async () => {
    rig = await startCartesiaRig({ emulator: { firstChunkDelayMs: 400 } });
    const listener = await rig.listen('desk');
    await rig.speak('desk', 'This survives a drop before its first chunk.');
    await eventually(() => rig.emulator.stats.contexts === 1, 3000, 'the first context');
    rig.emulator.dropConnections();
    expect((await endOf(listener, 1)).reason).toBe('done');
    expect(rig.emulator.stats.contexts).toBe(2);
    expect(rig.logs.some((line) => line.includes('replaying a Cartesia context'))).toBe(true);
  });
});
