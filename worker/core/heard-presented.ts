/**
 * Where an utterance's audio stands on the relay clock, from the playout's `timing` events: when a position was
 * (or will be) presented, and how far the audio presented by a given moment reaches. Both what was heard and the
 * playback reports that claim it are measured against this.
 */

/** One `timing` event: from `position` seconds of the utterance on, its audio is presented at relay clock `at`. */
interface Segment {
  position: number;
  at: number;
}

export class PresentedAudio {
  private readonly segments: Segment[] = [];

  /** The playout placed the audio from `position` seconds on at presentation time `at` (relay clock, ms). */
  placed(position: number, at: number): void {
    this.segments.push({ position, at });
  }

  /** Relay clock at which the audio `position` seconds into the utterance is presented, or null before any timing. */
  presentationOf(position: number): number | null {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.position <= position) return segment.at + (position - segment.position) * 1000;
    }
    return null;
  }

  /**
   * Seconds of the utterance presented by relay clock `clock` (a gap between placements adds nothing), or null
   * before any timing. Audio released ahead of its time is not counted until its time comes.
   */
  presentedBy(clock: number): number | null {
    const first = this.segments[0];
    if (!first) return null;
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.at > clock) continue;
      const reached = segment.position + (clock - segment.at) / 1000;
      const next = this.segments[i + 1];
      return next ? Math.min(reached, next.position) : reached;
    }
    return first.position;
  }
}
