/**
 * The current utterance of one stream, kept for listeners that join late with `?from=utterance`: its start and
 * the events since, bounded in bytes by dropping the oldest audio first.
 */
import type { BrokerEvent, ReplayedUtterance } from './broker.ts';

type Start = Extract<BrokerEvent, { type: 'utterance_start' }>;

/** One kept event with its place in the utterance: `seq` orders events, `offset` is audio's first byte. */
export interface BufferedEvent {
  seq: number;
  event: BrokerEvent;
  offset: number;
  bytes: number;
}

export class UtteranceBuffer {
  private start: Start | null = null;
  private startSeq = 0;
  /**
   * The kept events, one array a field (no object per event: every frame of every stream is appended, and on Bun an
   * object kept per frame grows the heap all through an utterance, which keeps the runtime's collection timer running
   * once a second). Entries before `head` are dropped ones, cut off once they are half the arrays.
   */
  private readonly seqs: number[] = [];
  /** A dropped entry's event is let go at once (null), not when the arrays are cut. */
  private readonly events: Array<BrokerEvent | null> = [];
  private readonly offsets: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private keptBytes = 0;
  private audioBytes = 0;
  private skippedBytes = 0;
  /** Seq an appended event gets when the caller names none. */
  private autoSeq = 0;
  /** What `append` returns, one object reused: every frame of every stream is appended. */
  private readonly appended = { seq: 0, offset: 0, dropped: 0 };

  /** `maxBytes` 0 keeps nothing: replays then join live. */
  constructor(private readonly maxBytes: number) {}

  /** The current utterance's number, or null between utterances. */
  get utterance(): number | null {
    return this.start?.utterance ?? null;
  }

  /** The seq that follows the last event taken in (or the start); 0 between utterances, where a start comes next. */
  get nextSeq(): number {
    if (!this.start) return 0;
    return (this.seqs.length > this.head ? this.seqs[this.seqs.length - 1]! : this.startSeq) + 1;
  }

  /**
   * Takes in a published event; returns the seq it got, the offset of its audio and how many kept entries were dropped
   * to stay in bound, in an object the next append overwrites.
   */
  append(event: BrokerEvent, seq = this.autoSeq): Readonly<{ seq: number; offset: number; dropped: number }> {
    this.autoSeq = seq + 1;
    if (event.type === 'utterance_start') {
      this.reset(event, seq);
      return this.result(seq, 0, 0);
    }
    if (!this.start || event.utterance !== this.start.utterance) return this.result(seq, 0, 0);
    if (event.type === 'utterance_end') {
      this.clear();
      return this.result(seq, 0, 0);
    }
    const offset = this.audioBytes;
    const bytes = event.type === 'audio' ? event.data.byteLength : 64;
    if (event.type === 'audio') this.audioBytes += bytes;
    this.keep(seq, event, offset, bytes);
    return this.result(seq, offset, this.trim());
  }

  /** Takes the utterance as read back from elsewhere (Redis) instead of what this buffer holds. */
  replace(start: Start, startSeq: number, history: BufferedEvent[]): void {
    this.reset(start, startSeq);
    for (const entry of history) this.keep(entry.seq, entry.event, entry.offset, entry.bytes);
    const firstAudio = history.find((entry) => entry.event.type === 'audio');
    this.skippedBytes = firstAudio ? firstAudio.offset : 0;
    const lastAudio = history.findLast((entry) => entry.event.type === 'audio');
    this.audioBytes = lastAudio ? lastAudio.offset + lastAudio.bytes : 0;
    this.autoSeq = (history[history.length - 1]?.seq ?? startSeq) + 1;
    this.trim();
  }

  snapshot(): ReplayedUtterance | null {
    if (!this.start) return null;
    return { start: this.start, events: this.events.slice(this.head) as BrokerEvent[], skippedBytes: this.skippedBytes };
  }

  clear(): void {
    this.start = null;
    this.head = this.seqs.length;
    this.cutDropped();
    this.keptBytes = 0;
    this.audioBytes = 0;
    this.skippedBytes = 0;
  }

  private result(seq: number, offset: number, dropped: number): Readonly<{ seq: number; offset: number; dropped: number }> {
    this.appended.seq = seq;
    this.appended.offset = offset;
    this.appended.dropped = dropped;
    return this.appended;
  }

  private reset(start: Start, seq: number): void {
    this.clear();
    this.start = start;
    this.startSeq = seq;
  }

  private keep(seq: number, event: BrokerEvent, offset: number, bytes: number): void {
    this.seqs.push(seq);
    this.events.push(event);
    this.offsets.push(offset);
    this.sizes.push(bytes);
    this.keptBytes += bytes;
  }

  private trim(): number {
    let dropped = 0;
    while (this.keptBytes > this.maxBytes && this.head < this.events.length) {
      const at = this.head++;
      this.keptBytes -= this.sizes[at]!;
      if (this.events[at]!.type === 'audio') this.skippedBytes = this.offsets[at]! + this.sizes[at]!;
      this.events[at] = null;
      dropped++;
    }
    if (this.head > 0 && this.head * 2 >= this.events.length) this.cutDropped();
    return dropped;
  }

  /** Moves the kept entries to the front of the arrays, in place. */
  private cutDropped(): void {
    cutFront(this.seqs, this.head);
    cutFront(this.events, this.head);
    cutFront(this.offsets, this.head);
    cutFront(this.sizes, this.head);
    this.head = 0;
  }
}

function cutFront(list: unknown[], count: number): void {
  list.copyWithin(0, count);
  list.length -= count;
}
