/**
 * A publisher's inbox: messages wait here, in order, while the publish protocol is busy with an earlier one.
 * Past `RELAY_PUBLISH_MAX_PENDING_CHARS` waiting the socket stops being read (Node's `ws.pause()`, Bun's
 * `pause()`: TCP pushes back on the publisher; frames already read, up to one socket read, are still
 * delivered and wait too), and is read again once half of that has drained. Runtimes that cannot pause a
 * socket (Deno) keep reading and close a publisher whose waiting text passes four times the bound, and
 * RELAY_MAX_UTTERANCE_CHARS, with `rate_limited`.
 */
import { RelayError, toRelayError } from '../../shared/errors.ts';
import type { PublishClientMessage, PublishServerMessage } from '../../shared/publish-protocol.ts';

// Queued messages cost their text plus this, so a flood of empty messages is bounded too.
const MESSAGE_OVERHEAD_CHARS = 16;
// Where the runtime cannot stop reading, a publisher this far past the bound (and past one utterance's worth
// of text, which costs little memory) is cut off rather than buffered.
const OVERRUN_FACTOR = 4;

export type InboxItem =
  | { kind: 'message'; message: PublishClientMessage; dropped: boolean }
  | { kind: 'invalid'; reason: string; seq?: number }
  /** A cancel's or interrupt's reply, in the place of the message; it may still be on its way. */
  | { kind: 'reply'; reply: Promise<PublishServerMessage> };

export interface InboxOptions {
  maxPending: number;
  maxUtteranceChars: number;
  /** Stops and restarts reading the socket; null where the runtime cannot. */
  reading: { pause(): void; resume(): void } | null;
  /** Takes the next item; the one after waits until it settles. */
  handle(item: InboxItem): Promise<void>;
  /** The publisher overran the inbox, or handling an item threw: the session ends with this error. */
  fail(error: RelayError): void;
}

export class PublishInbox {
  private readonly items: InboxItem[] = [];
  private readonly maxInbox: number;
  private cost = 0;
  private draining = false;
  private paused = false;
  private closed = false;

  constructor(private readonly options: InboxOptions) {
    this.maxInbox = Math.max(options.maxPending * OVERRUN_FACTOR, options.maxUtteranceChars);
  }

  push(item: InboxItem): void {
    this.items.push(item);
    this.cost += costOf(item);
    if (this.cost > this.options.maxPending && !this.paused) {
      if (this.options.reading) {
        this.options.reading.pause();
        this.paused = true;
      } else if (this.cost > this.maxInbox) {
        this.options.fail(new RelayError('rate_limited', `The publisher sent more than ${this.maxInbox} characters ahead of speech; wait for acks.`));
        return;
      }
    }
    if (!this.draining) {
      this.draining = true;
      this.drain().catch((error: unknown) => this.options.fail(toRelayError(error)));
    }
  }

  /** Every message waiting is to be acked as dropped when its turn comes. */
  dropWaiting(): void {
    for (const item of this.items) if (item.kind === 'message') item.dropped = true;
  }

  /** Forgets what waits and takes nothing more. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
  }

  private async drain(): Promise<void> {
    // Cleared in the same turn as the inbox is found empty, so a message arriving next starts a new drain.
    try {
      for (let item = this.items.shift(); item && !this.closed; item = this.items.shift()) {
        this.cost -= costOf(item);
        if (this.paused && this.cost <= this.options.maxPending / 2) {
          this.paused = false;
          this.options.reading?.resume();
        }
        await this.options.handle(item);
      }
    } finally {
      this.draining = false;
    }
  }
}

/** What an item weighs in the inbox: its text, plus an overhead so floods of empty messages count too. */
function costOf(item: InboxItem): number {
  return (item.kind === 'message' && item.message.type === 'text' ? item.message.text.length : 0) + MESSAGE_OVERHEAD_CHARS;
}
