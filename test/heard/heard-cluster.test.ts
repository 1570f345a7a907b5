/** Across instances: a listener on one instance reports what it played; the instance speaking the stream hears it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { samplesIn } from '../../shared/audio-format.ts';
import { relayEnv, type RelayProcess, startRelayProcess } from '../cluster/relay-process.ts';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { TEST_ADMIN_KEY, within } from '../support/relay.ts';

const RATE = 22050;
const TEXT = 'A long answer that goes on, sentence after sentence, until somebody on another instance stops listening to it. '.repeat(3);

let redis: RedisServer;
const relays: RelayProcess[] = [];
const listeners: RecordedListener[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  // A short playout lead: audio reaches the listener at most ~0.45 s before its time (lead, sync delay, a chunk), so
  // reporting 1 s once 1.2 s was sent stays within what was presented (reports past it by over 0.5 s are capped).
  const env = relayEnv(`redis://127.0.0.1:${redis.port}`, { RELAY_HEARD_WAIT_MS: '1000', RELAY_PLAYOUT_LEAD_MS: '100' });
  // One after the other: each start compiles the relay, which is slow on a busy machine.
  relays.push(await startRelayProcess(env, 60_000));
  relays.push(await startRelayProcess(env, 60_000));
}, 150_000);

afterAll(async () => {
  for (const listener of listeners) listener.close();
  await Promise.all(relays.map((relay) => relay.stop()));
  await redis?.stop();
});

async function listen(relay: RelayProcess, stream: string): Promise<RecordedListener> {
  const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY });
  listeners.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

function secondsSent(listener: RecordedListener, utterance: number): number {
  return samplesIn({ encoding: 'pcm_f32le', sampleRate: RATE }, listener.audioOf(utterance).byteLength) / RATE;
}

describe('heard across instances', () => {
  it('takes the reports of a listener on another instance, and counts a silent one there as unconfirmed', async () => {
    const [speaking, other] = relays as [RelayProcess, RelayProcess];
    const reporting = await listen(other, 'far-room');
    await listen(other, 'far-room');
    const answer = speaking.speak('far-room', TEXT, 'wait=true').then((r) => r.json() as Promise<SpeakCompleted>);
    const start = await reporting.waitFor(isStart, 30_000);
    await reporting.waitFor((m) => m.type === 'timestamps', 30_000);
    const deadline = Date.now() + 30_000;
    while (secondsSent(reporting, start.utterance) < 1.2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    reporting.socket.send(JSON.stringify({ type: 'played', utterance: start.utterance, samples: RATE }));
    const cancel = await speaking.request('/v1/streams/far-room/cancel', { method: 'POST' });
    expect(cancel.status).toBe(200);
    await reporting.waitFor(isEnd, 30_000);
    reporting.socket.send(JSON.stringify({ type: 'played', utterance: start.utterance, samples: RATE, final: true }));

    const { heard, reason } = await within(answer, 30_000, 'the answer');
    expect(reason).toBe('cancelled');
    expect(heard).toMatchObject({ listeners: 1, unconfirmed: 1, seconds: 1 });
    const stamped = reporting.messages.flatMap((m) => (m.type === 'timestamps' && m.utterance === start.utterance ? m.words : []));
    expect(heard!.words).toBeGreaterThan(0);
    expect(heard!.words).toBe(stamped.filter((w) => w.end <= 1).length);
    expect(TEXT.startsWith(heard!.text)).toBe(true);
  }, 90_000);
});
