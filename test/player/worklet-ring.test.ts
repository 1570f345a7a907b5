/**
 * The worklet's ResamplingRing: chunks cut at arbitrary places, two utterances, resampled to the context rate. Frame
 * counts, continuity at every join and where each frame's mark places it are checked against one sine running
 * through both utterances (an utterance's last sample is held through its period, then the next one starts).
 */
import { describe, expect, it } from 'vitest';
import { ResamplingRing } from '../../worker/player/public/worklet-ring.js';

const TONE_HZ = 440;

/** Chunk sizes from 1 to `max`, from a fixed seed (a linear congruential generator), until `total` is covered. */
function cuts(total: number, max: number, seed: number): number[] {
  const sizes = [];
  let state = seed;
  for (let covered = 0; covered < total; ) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const size = Math.min(total - covered, 1 + (state % max));
    sizes.push(size);
    covered += size;
  }
  return sizes;
}

describe.each([
  { wire: 22_050, context: 48_000 },
  { wire: 48_000, context: 44_100 },
])('the ring resampling $wire Hz to $context Hz', ({ wire, context }) => {
  const step = wire / context;
  // One sine across both utterances, so a seam at a chunk or utterance join shows as a jump.
  const tone = (source: number) => Math.sin((2 * Math.PI * TONE_HZ * source) / wire);
  const lengths = [Math.round(wire * 1.3), Math.round(wire * 0.7)];
  const starts = [0, lengths[0]!];
  const ends = [lengths[0]!, lengths[0]! + lengths[1]!];
  /** The utterance (1 or 2) that source position `source` of the whole belongs to. */
  const utteranceAt = (source: number) => (source < ends[0]! - 1e-9 ? 1 : 2);
  /** The ideal frame at `source`: the sine, but an utterance's last sample held until its end. */
  const ideal = (source: number) => {
    const end = ends[utteranceAt(source) - 1]!;
    return tone(source > end - 1 ? end - 1 : source);
  };

  const fill = () => {
    const ring = new ResamplingRing(4 * context, context);
    lengths.forEach((length, u) => {
      let offset = 0;
      for (const size of cuts(length, u === 0 ? 1500 : 7, 17 + u)) {
        ring.write(Float32Array.from({ length: size }, (_, k) => tone(starts[u]! + offset + k)), wire, u + 1, offset);
        offset += size;
      }
    });
    ring.end(2);
    return ring;
  };

  it('renders each utterance in its length at the context rate, within a frame', () => {
    const ring = fill();
    const counts = new Map<number, number>();
    const done: number[] = [];
    while (ring.buffered > 0) ring.take(97, null, (u, n) => counts.set(u, (counts.get(u) ?? 0) + n), (u) => done.push(u));
    lengths.forEach((length, u) => expect(Math.abs(counts.get(u + 1)! - length / step)).toBeLessThanOrEqual(1));
    expect(done).toEqual([1, 2]);
    expect(ring.dropped).toBe(0);
    expect(ring.drained()).toBe(true);
  });

  it('joins chunks without a seam: every frame on the sine, no step between frames larger than its slope', () => {
    const ring = fill();
    const frames = new Float32Array(ring.buffered);
    expect(ring.take(frames.length, frames, () => {}, () => {})).toBe(frames.length);
    expect(frames.length).toBe(Math.ceil(ends[1]! / step));
    // Frame f sits at source position f * step of the whole (position 0: the first utterance's first sample).
    const worst = frames.reduce((max, value, f) => Math.max(max, Math.abs(value - ideal(f * step))), 0);
    // Linear interpolation of the tone errs by at most (ω/wire)² / 8, ~0.002 at 22050 Hz.
    expect(worst).toBeLessThan(((2 * Math.PI * TONE_HZ) / wire) ** 2 / 8 + 1e-6);
    const slope = (2 * Math.PI * TONE_HZ) / context;
    const jumps = Array.from(frames.slice(1), (value, f) => ({ jump: Math.abs(value - frames[f]!), join: utteranceAt(f * step) !== utteranceAt((f + 1) * step) }));
    expect(Math.max(...jumps.filter((j) => !j.join).map((j) => j.jump))).toBeLessThan(slope * 1.01);
    // Into the next utterance, at most one source sample's change (its predecessor was held) and one frame's.
    expect(jumps.filter((j) => j.join)).toHaveLength(1);
    expect(jumps.find((j) => j.join)!.jump).toBeLessThan((2 * Math.PI * TONE_HZ) / wire + slope);
  });

  it("places each frame by its mark: the head's utterance and source sample are where the frame sits", () => {
    const ring = fill();
    for (let taken = 0; ring.buffered > 0; taken += ring.take(53, null, () => {}, () => {})) {
      const head = ring.head()!;
      const source = taken * step;
      // A frame between the first utterance's last sample and the second's first is the first's (its last sample held).
      const utterance = utteranceAt(source);
      expect(head.mark.utterance).toBe(utterance);
      expect(head.sample).toBeCloseTo(source - starts[utterance - 1]!, 6);
    }
  });
});
