/**
 * Playback summaries, from every instance with listeners of a stream to the instance that speaks it: the
 * way back of the hub. In one process a summary is a function call; across instances a small JSON message
 * on the stream's `played` channel in Redis, which only the stream's speaking instance subscribes to.
 */
import { z } from 'zod';
import type { Logger } from '../ops/logger.ts';
import type { RedisKeys } from './redis-keys.ts';
import type { RedisLink } from './redis-link.ts';

/** At most this many individual reports ride in one summary, for the heard-latency figures. */
export const MAX_SUMMARY_SAMPLES = 64;

export const playbackSummarySchema = z.object({
  instance: z.string().max(64),
  stream: z.string().max(128),
  utterance: z.number().int().nonnegative(),
  /** This instance's listeners of the stream while the utterance played. */
  listeners: z.number().int().nonnegative(),
  /** Of which reported playing it. */
  reporters: z.number().int().nonnegative(),
  /** Furthest position reported, in seconds from the utterance's first sample. */
  furthest: z.number().nonnegative(),
  /** No further summary of this utterance comes from this instance. */
  closed: z.boolean(),
  /** Reports since the last summary: [position in seconds, milliseconds since it arrived]. */
  reports: z.array(z.tuple([z.number().nonnegative(), z.number().nonnegative()])).max(MAX_SUMMARY_SAMPLES),
});
export type PlaybackSummary = z.infer<typeof playbackSummarySchema>;

export type SummaryHandler = (summary: PlaybackSummary) => void;

export interface PlaybackExchange {
  /** Sends a summary towards whoever speaks its stream; dropped when nobody does. */
  send(summary: PlaybackSummary): void;
  /** Called on the speaking instance; returns the function that unsubscribes. */
  subscribe(stream: string, handler: SummaryHandler): () => void;
}

class Subscribers {
  private readonly handlers = new Map<string, Set<SummaryHandler>>();

  /** Adds a handler; true when it is the stream's first. */
  add(stream: string, handler: SummaryHandler): boolean {
    const set = this.handlers.get(stream) ?? new Set<SummaryHandler>();
    this.handlers.set(stream, set);
    set.add(handler);
    return set.size === 1;
  }

  /** Removes a handler; true when it was the stream's last. */
  remove(stream: string, handler: SummaryHandler): boolean {
    const set = this.handlers.get(stream);
    if (!set?.delete(handler)) return false;
    if (set.size > 0) return false;
    this.handlers.delete(stream);
    return true;
  }

  deliver(summary: PlaybackSummary): void {
    for (const handler of this.handlers.get(summary.stream) ?? []) handler(summary);
  }
}

export class MemoryPlaybackExchange implements PlaybackExchange {
  private readonly subscribers = new Subscribers();

  send(summary: PlaybackSummary): void {
    this.subscribers.deliver(summary);
  }

  subscribe(stream: string, handler: SummaryHandler): () => void {
    this.subscribers.add(stream, handler);
    return () => void this.subscribers.remove(stream, handler);
  }
}

export class RedisPlaybackExchange implements PlaybackExchange {
  private readonly subscribers = new Subscribers();
  private readonly local = new Set<string>();

  constructor(
    private readonly link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
  ) {}

  send(summary: PlaybackSummary): void {
    // The speaking instance may be this one: no round trip through Redis then.
    if (this.local.has(summary.stream)) this.subscribers.deliver(summary);
    else this.link.send(['PUBLISH', this.keys.played(summary.stream), JSON.stringify(summary)]);
  }

  subscribe(stream: string, handler: SummaryHandler): () => void {
    if (this.subscribers.add(stream, handler)) {
      this.local.add(stream);
      this.link.subscribe(this.keys.played(stream), (message) => this.receive(message)).catch((error: unknown) => {
        this.logger.warn('playback reports from other instances are not reaching this one', { stream, error });
      });
    }
    return () => {
      if (!this.subscribers.remove(stream, handler)) return;
      this.local.delete(stream);
      this.link.unsubscribe(this.keys.played(stream)).catch(() => {});
    };
  }

  private receive(message: Uint8Array): void {
    try {
      this.subscribers.deliver(playbackSummarySchema.parse(JSON.parse(new TextDecoder().decode(message))));
    } catch (error) {
      this.logger.warn('invalid playback summary skipped', { error });
    }
  }
}
