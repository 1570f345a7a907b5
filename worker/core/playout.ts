/**
 * Releases a stream's audio at the pace it plays, a bounded lead ahead of real time, so that what the
 * relay calls "current" is what listeners hear, and a cancel stops audio that has not yet gone out.
 * The timeline it keeps is the listeners' too: each stretch of contiguous audio is placed on it by a
 * `timing` event (presentation time = place on the timeline + the sync delay) published just before it.
 */
import type { BrokerEvent } from '../broker/broker.ts';
import { afterIO } from '../../shared/timers.ts';
import { relayClockAt } from './relay-clock.ts';

// Longest one turn of the event loop spends publishing before it yields to I/O.
const MAX_TURN_MS = 50;
/**
 * Audio released this late after the timeline ran dry still continues it, so a provider that delivers in
 * real time with a few milliseconds of jitter gets no gaps mid-word; it comes out of the sync delay.
 */
const GAP_TOLERANCE_MS = 20;

export interface PlayoutTiming {
  /** Added to a sample's place on the timeline to give its presentation time. */
  syncDelayMs: number;
  /** The relay clock at a reading of `now`. */
  clockAt: (reading: number) => number;
}

/** What a waiter waits for: every queued event published, or at most this much audio still queued. */
type Backlog = 'drained' | { atMostSeconds: number };

export class Playout {
  private readonly pending: Array<{ event: BrokerEvent; seconds: number }> = [];
  /** Clock reading at which everything published so far has finished playing. */
  private timelineEnd = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** A yield to I/O is scheduled: pumping resumes after it. */
  private yielding = false;
  /** Clock reading when a push began publishing in this turn of the event loop; null once the turn is over. */
  private turnStarted: number | null = null;
  /** Seconds of audio queued and not yet released. */
  private pendingSeconds = 0;
  private waiters: Array<{ until: Backlog; resolve: () => void }> = [];
  /** The utterance whose audio was released last, and how many seconds of it. */
  private utterance = -1;
  private position = 0;

  constructor(
    private readonly leadMs: number,
    private readonly publish: (event: BrokerEvent) => void,
    private readonly now: () => number,
    private readonly timing: PlayoutTiming = { syncDelayMs: 0, clockAt: relayClockAt },
  ) {}

  /** Queues an event; audio events carry their duration and wait their turn on the timeline. */
  push(event: BrokerEvent, seconds = 0): void {
    this.pending.push({ event, seconds });
    this.pendingSeconds += seconds;
    this.pump();
  }

  /**
   * Queues word times ahead of their utterance's unreleased audio (but behind its start): they carry times from the
   * utterance's first sample, and a caption needs them before its words are heard, not after (providers send them
   * after the audio they describe).
   */
  pushAhead(event: Extract<BrokerEvent, { type: 'timestamps' | 'phoneme_timestamps' }>): void {
    const at = this.pending.findIndex((p) => p.event.type === 'audio' && p.event.utterance === event.utterance);
    if (at < 0) return this.push(event);
    this.pending.splice(at, 0, { event, seconds: 0 });
    this.pump();
  }

  /** Resolves once every queued event has been published (or dropped by `clear`). */
  drained(): Promise<void> {
    return this.wait('drained');
  }

  /**
   * Resolves once no more than `seconds` of audio wait to be released: a producer awaits this so
   * that synthesis runs a bounded distance ahead of playback instead of filling memory.
   */
  until(seconds: number): Promise<void> {
    return this.wait({ atMostSeconds: seconds });
  }

  /** Drops everything not yet published; the timeline keeps what already went out. */
  clear(): void {
    this.pending.length = 0;
    this.pendingSeconds = 0;
    this.stopTimer();
    this.wakeWaiters();
  }

  /**
   * Drops up to `seconds` of the newest audio not yet released (events after it stay), cutting one event short
   * with `shorten`, which returns the shortened event and its length; returns the seconds dropped.
   */
  dropNewestAudio(seconds: number, shorten: (event: BrokerEvent, keepSeconds: number) => { event: BrokerEvent; seconds: number }): number {
    let dropped = 0;
    for (let i = this.pending.length - 1; i >= 0 && seconds - dropped > 1e-9; i--) {
      const item = this.pending[i]!;
      if (item.seconds <= 0) continue;
      const wanted = seconds - dropped;
      if (item.seconds <= wanted) {
        this.pending.splice(i, 1);
        dropped += item.seconds;
        continue;
      }
      const kept = shorten(item.event, item.seconds - wanted);
      dropped += item.seconds - kept.seconds;
      this.pending[i] = kept;
    }
    this.pendingSeconds -= dropped;
    this.wakeWaiters();
    return dropped;
  }

  /**
   * Ends the current utterance's audio and returns the presentation time of its end. Whatever was not
   * released is dropped; a cut also takes back the released audio that is not yet due (the lead), so the
   * next utterance starts now rather than after audio nobody will hear.
   */
  end(cut: boolean): number {
    this.clear();
    if (cut) this.timelineEnd = Math.min(this.timelineEnd, this.now());
    this.utterance = -1;
    this.position = 0;
    return this.presentationAt(this.timelineEnd);
  }

  /** Milliseconds of published audio still to play. */
  get aheadMs(): number {
    return Math.max(0, this.timelineEnd - this.now());
  }

  /**
   * The timer's, the turn marker's and the yield's callbacks, made once: audio sets a timer per chunk, so a callback
   * made per chunk would be an allocation per chunk.
   */
  private readonly onTimer = (): void => {
    this.timer = null;
    this.pump(this.now());
  };

  private readonly endTurn = (): void => {
    this.turnStarted = null;
  };

  private readonly resume = (): void => {
    this.yielding = false;
    this.pump();
  };

  /** Publishes what is due; `timerTurn` is when the pump's own timer began this turn of the event loop. */
  private pump(timerTurn: number | null = null): void {
    this.stopTimer();
    if (this.yielding) return;
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      const now = this.now();
      const ahead = this.timelineEnd - now;
      if (head.seconds > 0 && ahead > this.leadMs) {
        this.timer = setTimeout(this.onTimer, ahead - this.leadMs);
        return;
      }
      if (this.overTurnBudget(now, timerTurn)) {
        // Publishing is slower than the audio plays (a fan-out past its capacity), and the provider's
        // events arrive in one chain of microtasks: yield to the sockets, connections and other streams
        // rather than block the event loop for the whole backlog.
        this.yielding = true;
        afterIO(this.resume);
        return;
      }
      if (head.seconds > 0) this.place(head.event, head.seconds, now);
      this.pending.shift();
      this.pendingSeconds -= head.seconds;
      this.publish(head.event);
      this.wakeWaiters();
    }
    this.wakeWaiters();
  }

  /** Puts released audio on the timeline, announcing its presentation time when it starts a new stretch. */
  private place(event: BrokerEvent, seconds: number, now: number): void {
    const restart = now - this.timelineEnd > GAP_TOLERANCE_MS;
    const start = restart ? now : this.timelineEnd;
    if (event.utterance !== this.utterance || restart) {
      if (event.utterance !== this.utterance) this.position = 0;
      this.utterance = event.utterance;
      this.publish({ type: 'timing', utterance: event.utterance, position: this.position, at: this.presentationAt(start) });
    }
    this.position += seconds;
    this.timelineEnd = start + seconds * 1000;
  }

  private presentationAt(reading: number): number {
    return this.timing.clockAt(reading) + this.timing.syncDelayMs;
  }

  /**
   * Whether this turn of the event loop has published for longer than MAX_TURN_MS. A pump run by its timer starts its
   * turn and times it itself; pushes (each pumps anew, in one chain of microtasks) share a marker that the end of the
   * turn clears, set only when one of them publishes: a chunk released by its timer schedules nothing but the next timer.
   */
  private overTurnBudget(now: number, timerTurn: number | null): boolean {
    if (this.turnStarted === null) {
      if (timerTurn !== null) return now - timerTurn > MAX_TURN_MS;
      this.turnStarted = now;
      afterIO(this.endTurn);
      return false;
    }
    return now - this.turnStarted > MAX_TURN_MS;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private wait(until: Backlog): Promise<void> {
    if (this.satisfied(until)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ until, resolve }));
  }

  private satisfied(until: Backlog): boolean {
    return until === 'drained' ? this.pending.length === 0 : this.pendingSeconds <= until.atMostSeconds;
  }

  /** Called for every event released: a plain loop, so nothing is allocated unless a waiter is ready. */
  private anyWaiterReady(): boolean {
    for (let i = 0; i < this.waiters.length; i++) if (this.satisfied(this.waiters[i]!.until)) return true;
    return false;
  }

  private wakeWaiters(): void {
    if (this.anyWaiterReady()) this.resolveReady();
  }

  /**
   * Apart from wakeWaiters, which runs for every event released, because on JSC (Bun) a method whose closures capture
   * its locals allocates a scope object at every call, even when it returns before making them: two a frame, here.
   */
  private resolveReady(): void {
    const ready = this.waiters.filter((w) => this.satisfied(w.until));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve();
  }
}
