/**
 * Messages between instances (an utterance's result for its origin, a cancel for a stream's owner) that
 * survive a Redis blip: each waits in the addressee's list in Redis, and a pub/sub nudge tells it to read;
 * a message Redis did not take stays in the sender's outbox and goes again when Redis is back. Addressees
 * also read their list on a timer and when Redis comes back, so a nudge lost in the blip loses nothing.
 */
import { unrefTimer } from '../../shared/timers.ts';
import type { RedisKeys } from '../broker/redis-keys.ts';
import { type RedisLink, text } from '../broker/redis-link.ts';
import type { Logger } from '../ops/logger.ts';

// A message nobody read in this long is for an instance that is gone.
const MAILBOX_TTL_MS = 10 * 60_000;
// Messages one read takes; a fuller list is read again at once.
const READ_BATCH = 100;
const NUDGE = 'mail';

export interface MailboxOptions {
  link: RedisLink;
  keys: RedisKeys;
  instanceId: string;
  /** How often the list is read without a nudge. */
  pollMs: number;
  /** Redis unreachable this long: `lost` is called once (the results this instance waits for may never come). */
  lostAfterMs: number;
  logger: Logger;
  receive(message: string): void;
  lost(): void;
}

export class Mailbox {
  private readonly outbox: Array<{ to: string; message: string }> = [];
  private poller: ReturnType<typeof setInterval> | null = null;
  private lostTimer: ReturnType<typeof setTimeout> | null = null;
  private reading = false;
  private again = false;
  private closed = false;

  constructor(private readonly options: MailboxOptions) {}

  private key(instance: string): string {
    return `${this.options.keys.instance(instance)}:mailbox`;
  }

  async start(): Promise<void> {
    const { link, keys, instanceId, pollMs } = this.options;
    await link.subscribe(keys.instance(instanceId), () => this.read());
    link.onHealthChange((healthy) => this.healthChanged(healthy));
    this.poller = setInterval(() => {
      this.read();
      this.retry();
    }, pollMs);
    unrefTimer(this.poller);
    this.read();
  }

  send(to: string, message: string): void {
    this.outbox.push({ to, message });
    this.retry();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    if (this.lostTimer) clearTimeout(this.lostTimer);
    await this.options.link.unsubscribe(this.options.keys.instance(this.options.instanceId));
  }

  /** Sends what waits in the outbox, in order; what Redis refuses stays for the next try. */
  private retry(): void {
    const { link, keys } = this.options;
    const pending = this.outbox.splice(0);
    for (const item of pending) {
      const key = this.key(item.to);
      link
        .command(['RPUSH', key, item.message])
        .then(() => {
          link.send(['PEXPIRE', key, String(MAILBOX_TTL_MS)]);
          link.send(['PUBLISH', keys.instance(item.to), NUDGE]);
        })
        .catch(() => {
          if (!this.closed) this.outbox.push(item);
        });
    }
  }

  /** Takes every message waiting for this instance. */
  private read(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.options.link
      .command(['LPOP', this.key(this.options.instanceId), String(READ_BATCH)])
      .then((reply) => {
        const messages = Array.isArray(reply) ? reply.map(text) : [];
        for (const message of messages) this.options.receive(message);
        if (messages.length === READ_BATCH) this.again = true;
      })
      .catch(() => {
        // Redis is away: the next poll, or its return, reads again.
      })
      .finally(() => {
        this.reading = false;
        if (this.again) {
          this.again = false;
          this.read();
        }
      });
  }

  private healthChanged(healthy: boolean): void {
    if (healthy) {
      if (this.lostTimer) clearTimeout(this.lostTimer);
      this.lostTimer = null;
      this.retry();
      this.read();
      return;
    }
    if (this.lostTimer || this.closed) return;
    this.lostTimer = setTimeout(() => {
      this.lostTimer = null;
      this.options.logger.warn('redis unreachable too long: utterances waiting for a result from another instance end with hub_unavailable', {
        after_ms: this.options.lostAfterMs,
      });
      this.options.lost();
    }, this.options.lostAfterMs);
    unrefTimer(this.lostTimer);
  }
}
