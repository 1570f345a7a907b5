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
  private entries: BufferedEvent[] = [];
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
    return (this.entries.length > 0 ? this.entries[this.entries.length - 1]!.seq : this.startSeq) + 1;
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
    this.entries.push({ seq, event, offset, bytes });
    this.keptBytes += bytes;
    return this.result(seq, offset, this.trim());
  }

  /** Takes the utterance as read back from elsewhere (Redis) instead of what this buffer holds. */
  replace(start: Start, startSeq: number, history: BufferedEvent[]): void {
    this.reset(start, startSeq);
    this.entries = history;
    this.keptBytes = history.reduce((total, entry) => total + entry.bytes, 0);
    const firstAudio = history.find((entry) => entry.event.type === 'audio');
    this.skippedBytes = firstAudio ? firstAudio.offset : 0;
    const lastAudio = history.findLast((entry) => entry.event.type === 'audio');
    this.audioBytes = lastAudio ? lastAudio.offset + lastAudio.bytes : 0;
    this.autoSeq = (history[history.length - 1]?.seq ?? startSeq) + 1;
    this.trim();
  }

  snapshot(): ReplayedUtterance | null {
    if (!this.start) return null;
    return { start: this.start, events: this.entries.map((entry) => entry.event), skippedBytes: this.skippedBytes };
  }

  clear(): void {
    this.start = null;
    this.entries = [];
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

  private trim(): number {
    let dropped = 0;
    while (this.keptBytes > this.maxBytes && this.entries.length > dropped) {
      const entry = this.entries[dropped]!;
      this.keptBytes -= entry.bytes;
      if (entry.event.type === 'audio') this.skippedBytes = entry.offset + entry.bytes;
      dropped++;
    }
    if (dropped > 0) this.entries.splice(0, dropped);
    return dropped;
  }
}
