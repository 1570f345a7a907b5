/**
 * Releases a stream's audio at the pace it plays, a bounded lead ahead of real time, so that what the
 * relay calls "current" is what listeners hear, and a cancel stops audio that has not yet gone out.
 */
import type { HubEvent } from './hub/hub.ts';

export class Playout {
  private readonly pending: Array<{ event: HubEvent; seconds: number }> = [];
  /** Clock reading at which everything published so far has finished playing. */
  private timelineEnd = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly leadMs: number,
    private readonly publish: (event: HubEvent) => void,
    private readonly now: () => number,
  ) {}

  /** Queues an event; audio events carry their duration and wait their turn on the timeline. */
  push(event: HubEvent, seconds = 0): void {
    this.pending.push({ event, seconds });
    this.pump();
  }

  /** Resolves once every queued event has been published (or dropped by `clear`). */
  drained(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Drops everything not yet published; the timeline keeps what already went out. */
  clear(): void {
    this.pending.length = 0;
    this.stopTimer();
    this.resolveDrained();
  }

  /** Milliseconds of published audio still to play. */
  get aheadMs(): number {
    return Math.max(0, this.timelineEnd - this.now());
  }

  private pump(): void {
    this.stopTimer();
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      const now = this.now();
      if (head.seconds > 0) {
        const ahead = this.timelineEnd - now;
        if (ahead > this.leadMs) {
          this.timer = setTimeout(() => this.pump(), ahead - this.leadMs);
          return;
        }
        this.timelineEnd = Math.max(this.timelineEnd, now) + head.seconds * 1000;
      }
      this.pending.shift();
      this.publish(head.event);
    }
    this.resolveDrained();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private resolveDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
