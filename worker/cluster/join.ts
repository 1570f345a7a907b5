/** Builds a relay that is one instance among several: the Redis broker for fan-out, the cluster for queues. */
import type { RelayConfig } from '../ops/config.ts';
import { toHex } from '../broker/envelope.ts';
import { RedisBroker } from '../broker/redis.ts';
import { redisKeys } from '../broker/redis-keys.ts';
import { RedisPlaybackExchange } from '../broker/playback-exchange.ts';
import { RedisLink } from '../broker/redis-link.ts';
import type { Logger } from '../ops/logger.ts';
import type { TTSProvider } from '../providers/provider.ts';
import { Relay } from '../core/relay.ts';
import { ClusterDirectory } from './cluster.ts';

export interface JoinOptions {
  config: RelayConfig;
  provider: TTSProvider;
  logger: Logger;
  replayBytes: number;
}

/** Connects to REDIS_URL (or throws `hub_unavailable` naming it) and returns the relay, in the cluster. */
export async function joinCluster({ config, provider, logger, replayBytes }: JoinOptions): Promise<Relay> {
  const instanceId = toHex(crypto.getRandomValues(new Uint8Array(8)));
  const log = logger.child({ instance: instanceId });
  const link = await RedisLink.connect(config.hub.redisUrl!, log, `tts-relay:${instanceId}`);
  const keys = redisKeys(config.hub.redisKeyPrefix);
  const broker = new RedisBroker({ link, keys, instanceId, replayBytes, logger: log });
  const made: { cluster?: ClusterDirectory } = {};
  const relay = new Relay({
    config,
    provider,
    broker,
    logger,
    exchange: new RedisPlaybackExchange(link, keys, log),
    instanceId,
    directory: (streams) =>
      (made.cluster = new ClusterDirectory(streams, { link, keys, instanceId, leaseMs: config.hub.leaseMs, broker, limits: config.limits, now: () => performance.now(), logger: log })),
  });
  try {
    await made.cluster!.start();
  } catch (error) {
    await link.close();
    throw error;
  }
  log.info('joined the relay cluster', { redis: 'REDIS_URL', lease_ms: config.hub.leaseMs, replay_bytes: replayBytes });
  return relay;
}
