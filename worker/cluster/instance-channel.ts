/**
 * What instances tell each other (through each instance's mailbox in Redis, which survives a blip): cancel
 * the utterance you are speaking, and how an utterance whose speak request came to you ended.
 */
import { z } from 'zod';
import { END_REASONS, errorInfoSchema, heardSchema } from '../../shared/protocol.ts';
import type { RedisKeys } from '../broker/redis-keys.ts';
import type { RedisLink } from '../broker/redis-link.ts';
import type { Logger } from '../ops/logger.ts';
import { Mailbox } from './mailbox.ts';
import type { RemoteResult } from './remote-utterance.ts';

// Redis unreachable this long (or two leases): an utterance whose result another instance owes ends with hub_unavailable.
const RESULT_LOST_MS = 15_000;

const instanceMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cancel'), stream: z.string(), utterance_id: z.string() }),
  z.object({
    type: z.literal('result'),
    utterance_id: z.string(),
    reason: z.enum(END_REASONS),
    error: errorInfoSchema.optional(),
    audio_seconds: z.number(),
    first_audio_to_end_ms: z.number().nullable(),
    heard: heardSchema.optional(),
  }),
]);
type InstanceMessage = z.infer<typeof instanceMessageSchema>;

export interface InstanceHandlers {
  /** Another instance asks this one, the stream's owner, to cancel the utterance it is speaking. */
  cancel(stream: string, utteranceId: string): void;
  /** The owner of an utterance this instance took reports how it ended. */
  result(utteranceId: string, result: RemoteResult): void;
  /** Redis was unreachable too long: results owed to this instance may never come. */
  lost(): void;
}

export class InstanceChannel {
  private readonly mailbox: Mailbox;
  private handlers: InstanceHandlers | null = null;

  constructor(link: RedisLink, keys: RedisKeys, instanceId: string, private readonly logger: Logger, leaseMs: number) {
    this.mailbox = new Mailbox({
      link,
      keys,
      instanceId,
      pollMs: Math.max(250, Math.floor(leaseMs / 3)),
      lostAfterMs: Math.max(RESULT_LOST_MS, leaseMs * 2),
      logger,
      receive: (message) => {
        if (this.handlers) this.receive(message, this.handlers);
      },
      lost: () => this.handlers?.lost(),
    });
  }

  /** Reads this instance's mailbox; invalid messages are logged and skipped. */
  async listen(handlers: InstanceHandlers): Promise<void> {
    this.handlers = handlers;
    await this.mailbox.start();
  }

  async leave(): Promise<void> {
    await this.mailbox.close();
  }

  cancel(instance: string, stream: string, utteranceId: string): void {
    this.send(instance, { type: 'cancel', stream, utterance_id: utteranceId });
  }

  result(instance: string, utteranceId: string, result: RemoteResult): void {
    this.send(instance, {
      type: 'result',
      utterance_id: utteranceId,
      reason: result.reason,
      ...(result.error ? { error: result.error } : {}),
      audio_seconds: result.audioSeconds,
      first_audio_to_end_ms: result.firstAudioToEndMs,
      ...(result.heard ? { heard: result.heard } : {}),
    });
  }

  private send(instance: string, message: InstanceMessage): void {
    this.mailbox.send(instance, JSON.stringify(message));
  }

  private receive(data: string, handlers: InstanceHandlers): void {
    let parsed: InstanceMessage;
    try {
      parsed = instanceMessageSchema.parse(JSON.parse(data));
    } catch (error) {
      this.logger.warn('invalid cluster message skipped', { error });
      return;
    }
    if (parsed.type === 'cancel') {
      handlers.cancel(parsed.stream, parsed.utterance_id);
      return;
    }
    handlers.result(parsed.utterance_id, {
      reason: parsed.reason,
      ...(parsed.error ? { error: parsed.error } : {}),
      audioSeconds: parsed.audio_seconds,
      firstAudioToEndMs: parsed.first_audio_to_end_ms,
      ...(parsed.heard ? { heard: parsed.heard } : {}),
    });
  }
}
