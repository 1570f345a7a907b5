import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { connectListener, isEnd, type RecordedListener } from '../support/listener-client.ts';
import { startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { TEST_ADMIN_KEY } from '../support/relay.ts';
import { relayEnv, type RelayProcess, startRelayProcess } from './relay-process.ts';

let redis: RedisServer;
const relays: RelayProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  // One instance per runtime, one after the other: cold Bun and Deno starts are heavy on a two-core machine.
  for (const runtime of ['node', 'bun', 'deno'] as const) relays.push(await startRelayProcess(relayEnv(redis.url), 40_000, runtime));
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(relays.map((relay) => relay.stop()));
  await redis?.stop();
});

it('joins Node, Bun and Deno instances in one cluster: each speaks, all three hear the same bytes', async () => {
  const listeners: RecordedListener[] = [];
  try {
    for (const relay of relays) listeners.push(await connectListener(relay.url, 'mixed', { key: TEST_ADMIN_KEY }));
    for (const speaker of relays) {
      const result = (await (await speaker.speak('mixed', 'One cluster, three runtimes.', 'wait=true')).json()) as SpeakCompleted;
      expect(result.reason).toBe('done');
      for (const listener of listeners) await listener.waitFor((m) => isEnd(m) && m.utterance === result.utterance);
      const [first, ...rest] = listeners.map((listener) => Buffer.from(listener.audioOf(result.utterance)));
      expect(first!.byteLength).toBeGreaterThan(20_000);
      for (const other of rest) expect(other.equals(first!)).toBe(true);
    }
  } finally {
    for (const listener of listeners) listener.close();
  }
});
