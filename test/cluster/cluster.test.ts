import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SpeakAccepted, SpeakCompleted } from '../../shared/api.ts';
import { AUDIO_HEADER_BYTES } from '../../shared/protocol.ts';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { TEST_ADMIN_KEY, within } from '../support/relay.ts';
import { relayEnv, type RelayProcess, startRelayProcess } from './relay-process.ts';
import { type CountingProxy, startCountingProxy } from './tcp-proxy.ts';

// Short leases so a killed owner is replaced within seconds.
const LEASE_MS = '1500';
const LONG_TEXT = 'This is a long sentence for the cluster, spoken slowly enough to be interrupted in its middle. It goes on for a while longer still.';

let redis: RedisServer;
const proxies: CountingProxy[] = [];
const relays: RelayProcess[] = [];
const listeners: RecordedListener[] = [];

async function startInstance(index: number): Promise<RelayProcess> {
  proxies[index] ??= await startCountingProxy(redis.port);
  const relay = await startRelayProcess(relayEnv(proxies[index]!.url, { RELAY_LEASE_MS: LEASE_MS }));
  relays[index] = relay;
  return relay;
}

async function listen(relay: RelayProcess, stream: string, query?: Record<string, string>): Promise<RecordedListener> {
  const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY, ...(query ? { query } : {}) });
  listeners.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

/** Bytes a listener received over its socket: control messages as text, audio frames with their header. */
function bytesReceived(listener: RecordedListener): number {
  let total = 0;
  for (const event of listener.events) {
    total += event.kind === 'audio' ? AUDIO_HEADER_BYTES + event.frame.payload.byteLength : Buffer.byteLength(JSON.stringify(event.message));
  }
  return total;
}

beforeAll(async () => {
  redis = await startRedisServer();
  await Promise.all([0, 1, 2].map((index) => startInstance(index)));
}, 60_000);

afterEach(() => {
  for (const listener of listeners.splice(0)) listener.close();
});

afterAll(async () => {
  await Promise.allSettled(relays.map((relay) => relay.stop()));
  await Promise.allSettled(proxies.map((proxy) => proxy.close()));
  await redis?.stop();
});

describe('three relay instances over one Redis', () => {
  it('gives listeners on every instance byte-identical audio, which crosses Redis once per instance', async () => {
    const [a, b, c] = relays as [RelayProcess, RelayProcess, RelayProcess];
    const onA = [await listen(a, 'spread'), await listen(a, 'spread')];
    const onB = [await listen(b, 'spread')];
    const onC = [await listen(c, 'spread'), await listen(c, 'spread', { encoding: 'pcm_mulaw', sample_rate: '8000' })];
    for (const proxy of proxies) proxy.reset();
    const before = await redis.info('stats');

    const response = await b.speak('spread', 'Hello from instance B. Every instance hears this.', 'wait=true');
    const result = (await response.json()) as SpeakCompleted;
    expect(result).toMatchObject({ reason: 'done' });
    for (const listener of [...onA, ...onB, ...onC]) await listener.waitFor(isEnd);
    const after = await redis.info('stats');

    const reference = onB[0]!.audioOf(result.utterance);
    expect(reference.byteLength).toBeGreaterThan(20_000);
    for (const listener of [...onA, onC[0]!]) {
      expect(Buffer.from(listener.audioOf(result.utterance)).equals(Buffer.from(reference))).toBe(true);
      expect(listener.frames.map((f) => f.sampleOffset)).toEqual(onB[0]!.frames.map((f) => f.sampleOffset));
    }
    const phone = onC[1]!;
    expect(phone.messages.find(isEnd)!.samples).toBe(phone.audioOf(result.utterance).byteLength);

    const sourceBytes = reference.byteLength;
    const rows = [
      { instance: 'A (2 listeners)', listeners: onA },
      { instance: 'B (owner, 1 listener)', listeners: onB },
      { instance: 'C (2 listeners, 2 formats)', listeners: onC },
    ].map(({ instance, listeners: group }, index) => ({
      instance,
      to_redis: proxies[index]!.toRedis,
      from_redis: proxies[index]!.fromRedis,
      to_listeners: group.reduce((total, listener) => total + bytesReceived(listener), 0),
    }));
    const redisIn = Number(after.total_net_input_bytes) - Number(before.total_net_input_bytes);
    const redisOut = Number(after.total_net_output_bytes) - Number(before.total_net_output_bytes);
    console.log(`traffic for one utterance (${sourceBytes} bytes of source audio, pcm_f32le 22050 Hz):`);
    console.table(rows);
    console.log(`redis-server: ${redisIn} bytes in, ${redisOut} bytes out`);

    // The owner sends the audio to Redis once; each other instance with listeners receives it once, whatever its listener count.
    const owner = rows[1]!;
    expect(owner.to_redis).toBeGreaterThan(sourceBytes);
    expect(owner.to_redis).toBeLessThan(sourceBytes * 1.3);
    for (const row of [rows[0]!, rows[2]!]) {
      expect(row.from_redis).toBeGreaterThan(sourceBytes);
      expect(row.from_redis).toBeLessThan(sourceBytes * 1.3);
    }
    expect(rows[0]!.to_listeners).toBeGreaterThan(2 * sourceBytes);
  });
});
