import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster } from '../../worker/cluster/join.ts';
import type { Relay } from '../../worker/core/relay.ts';
import { generateSecret, loadConfig } from '../../worker/ops/config.ts';
import { silentLogger } from '../../worker/ops/logger.ts';
import { ScriptedProvider } from '../support/fakes.ts';
import { type RedisServer, startRedisServer } from '../support/redis-server.ts';

// Two cluster members in this process over a real redis-server, each on a provider the test drives.
describe('the cluster directory', () => {
  let redis: RedisServer;
  const relays: Relay[] = [];
  const join = async (provider: ScriptedProvider) => {
    const config = loadConfig({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'directory-test:', RELAY_ADMIN_KEY: 'directory-test-admin-key' }, generateSecret);
    const relay = await joinCluster({ config, provider, logger: silentLogger, replayBytes: 0 });
    relays.push(relay);
    return relay;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(relays.map((relay) => relay.close()));
    await redis?.stop();
  });

  it('cancels a queued utterance by id from another instance: it leaves the queue and ends cancelled, not failed', async () => {
    const ownerProvider = new ScriptedProvider();
    const owner = await join(ownerProvider);
    const other = await join(new ScriptedProvider());
    const speaking = await owner.directory.enqueue('room', { receivedAt: 0, buffering: 'provider' });
    const context = await ownerProvider.context(1);
    const queued = await other.directory.enqueue('room', { receivedAt: 0, buffering: 'provider' });
    queued.write('Never spoken.');
    expect((await other.directory.status('room'))?.queue.map((entry) => entry.utterance_id)).toEqual([queued.id]);

    expect(await other.directory.cancelUtterance('room', queued.id)).toBe(true);
    const result = await queued.result;
    expect(result.reason).toBe('cancelled');
    expect(result.error).toBeUndefined();
    expect(await owner.directory.status('room')).toMatchObject({ current: { utterance_id: speaking.id }, queue: [] });
    expect(await other.directory.cancelUtterance('room', queued.id)).toBe(false);

    speaking.write('Spoken.');
    speaking.end();
    await expect.poll(() => context.pushed).toEqual(['Spoken.']);
    context.done();
    expect((await speaking.result).reason).toBe('done');
  }, 30_000);

  it('cancels the utterance another instance is speaking, by id', async () => {
    const ownerProvider = new ScriptedProvider();
    const owner = await join(ownerProvider);
    const other = await join(new ScriptedProvider());
    const speaking = await owner.directory.enqueue('hall', { receivedAt: 0 });
    const context = await ownerProvider.context(1);
    await expect.poll(async () => (await other.directory.status('hall'))?.current?.utterance_id).toBe(speaking.id);
    expect(await other.directory.cancelUtterance('hall', speaking.id)).toBe(true);
    expect((await speaking.result).reason).toBe('cancelled');
    expect(context.cancelled).toBe(true);
  }, 30_000);
});
