/**
 * Audio waiting to be played, placed on the relay clock: every sample has a position in relay samples
 * (relay ms × rate / 1000), from the utterance's `timing` anchors. The scheduler reads it at a cursor that
 * moves one position per output sample; what arrives behind the cursor is late: dropped and counted.
 */

interface Chunk {
  utterance: number;
  /** Sample index of data[0] within the utterance, and its relay position. */
  sample: number;
  start: number;
  data: Float32Array;
}

/** A run of output filled from one utterance: `count` samples from its sample `sample`. */
export interface ContentSpan {
  offset: number;
  utterance: number;
  sample: number;
  /** Relay position of the span's first sample. */
  position: number;
  count: number;
}

export class PlayoutContent {
  private chunks: Chunk[] = [];
  /** Per utterance: relay position of its sample 0, from its latest anchor. */
  private readonly origins = new Map<number, number>();
  /** Per utterance: relay position from which nothing plays (its cut). */
  private readonly cuts = new Map<number, number>();
  /** Positions before this were already written out: audio for them is late. */
  private frontier = -Infinity;
  lateSamples = 0;

  constructor(private readonly rate: number) {}

  /** `timing`: sample `sample` of the utterance is presented at relay ms `at`. */
  anchor(utterance: number, sample: number, at: number): void {
    this.origins.set(utterance, (at * this.rate) / 1000 - sample);
  }

  hasOrigin(utterance: number): boolean {
    return this.origins.has(utterance);
  }

  /** Places decoded samples; the part behind the frontier (or past a cut) is dropped, the late (or unplaceable) part counted. */
  add(utterance: number, sample: number, data: Float32Array): void {
    const origin = this.origins.get(utterance);
    if (origin === undefined) {
      // No timing for it (the relay sends an utterance's timing before its audio): it cannot be placed.
      this.lateSamples += data.length;
      return;
    }
    let start = origin + sample;
    const cut = this.cuts.get(utterance) ?? Infinity;
    const late = Math.min(data.length, Math.max(0, Math.ceil(this.frontier - start)));
    this.lateSamples += late;
    const keep = Math.max(0, Math.min(data.length, Math.floor(cut - start)) - late);
    if (keep <= 0) return;
    start += late;
    this.insert({ utterance, sample: sample + late, start, data: data.subarray(late, late + keep) });
  }

  /** Nothing of the utterance at or after relay ms `at` plays. */
  cut(utterance: number, at: number): void {
    const position = (at * this.rate) / 1000;
    this.cuts.set(utterance, position);
    this.chunks = this.chunks.flatMap((chunk) => {
      if (chunk.utterance !== utterance || chunk.start + chunk.data.length <= position) return [chunk];
      const keep = Math.max(0, Math.floor(position - chunk.start));
      return keep === 0 ? [] : [{ ...chunk, data: chunk.data.subarray(0, keep) }];
    });
  }

  /** The utterance ended and plays no more: forget its anchors once its audio is gone. */
  forget(utterance: number): void {
    if (!this.chunks.some((chunk) => chunk.utterance === utterance)) this.origins.delete(utterance);
    this.cuts.delete(utterance);
  }

  /** Relay position of the first sample still to play; null when nothing waits. */
  next(): number | null {
    return this.chunks[0]?.start ?? null;
  }

  /** Just past the last sample waiting for the utterance: its relay position and utterance sample; null when none waits. */
  endOf(utterance: number): { position: number; sample: number } | null {
    let end: { position: number; sample: number } | null = null;
    for (const chunk of this.chunks) {
      if (chunk.utterance === utterance) end = { position: chunk.start + chunk.data.length, sample: chunk.sample + chunk.data.length };
    }
    return end;
  }

  /** Places samples at relay position `start` directly (a chime before an utterance); nothing of it is late. */
  place(utterance: number, start: number, data: Float32Array): void {
    const skip = Math.max(0, Math.ceil(this.frontier - start));
    if (skip < data.length) this.insert({ utterance, sample: skip, start: start + skip, data: data.subarray(skip) });
  }

  /** Relay position of the utterance's sample `sample`; null before its first anchor. */
  positionOf(utterance: number, sample: number): number | null {
    const origin = this.origins.get(utterance);
    return origin === undefined ? null : origin + sample;
  }

  /** Whether any audio lies in [from, to). */
  hasContent(from: number, to: number): boolean {
    return this.chunks.some((chunk) => chunk.start < to && chunk.start + chunk.data.length > from);
  }

  /**
   * Fills out[offset, offset+count) with what lies at relay positions cursor, cursor+1, … (silence where
   * nothing does) and moves the frontier past them; audio skipped over is counted late. Returns the spans.
   */
  read(cursor: number, out: Float32Array, offset: number, count: number): ContentSpan[] {
    const spans: ContentSpan[] = [];
    const end = cursor + count;
    for (const chunk of this.chunks) {
      if (chunk.start >= end) break;
      // Positions are fractional; one rounding places the chunk's sample i at output offset + shift + i.
      const shift = Math.round(chunk.start - cursor);
      const from = Math.max(0, -shift);
      const to = Math.min(chunk.data.length, count - shift);
      if (to <= from) continue;
      const at = offset + shift + from;
      out.set(chunk.data.subarray(from, to), at);
      spans.push({ offset: at, utterance: chunk.utterance, sample: chunk.sample + from, position: chunk.start + from, count: to - from });
    }
    this.advance(end);
    return spans;
  }

  /** Moves the frontier to `position`: what lies before it and was not read is late. */
  advance(position: number): void {
    this.frontier = Math.max(this.frontier, position);
    this.chunks = this.chunks.flatMap((chunk) => {
      const past = samplesBefore(position, chunk);
      if (past <= 0) return [chunk];
      if (past >= chunk.data.length) return [];
      return [{ ...chunk, sample: chunk.sample + past, start: chunk.start + past, data: chunk.data.subarray(past) }];
    });
  }

  /** Counts as late what waits before `position`, then moves there (a jump of the cursor over audio). */
  skipTo(position: number): void {
    for (const chunk of this.chunks) {
      const past = Math.min(chunk.data.length, samplesBefore(position, chunk));
      if (past > 0) this.lateSamples += past;
    }
    this.advance(position);
  }

  /** A jump back (the clock estimate moved): audio ahead of `position` may play again from there. */
  rewind(position: number): void {
    this.frontier = Math.min(this.frontier, position);
  }

  clear(): void {
    this.chunks = [];
  }

  private insert(chunk: Chunk): void {
    let index = this.chunks.length;
    while (index > 0 && this.chunks[index - 1]!.start > chunk.start) index--;
    this.chunks.splice(index, 0, chunk);
  }
}

/** How many of the chunk's samples lie before `position`, rounded as `read` places them. */
function samplesBefore(position: number, chunk: Chunk): number {
  return -Math.round(chunk.start - position);
}
