/**
 * What a room should have heard: a listener's audio laid out at the relay's presentation times on a recording's
 * timeline, so each room's capture can be cross-correlated against it (how late each room played, per utterance).
 */
import type { AudioFrame, ListenerMessage } from '../../shared/protocol.ts';
import type { Capture } from './pulse-rooms.ts';
import { offsetMs } from './room-analysis.ts';

type Timing = Extract<ListenerMessage, { type: 'timing' }>;

export interface PlacedUtterance {
  utterance: number;
  /** Capture samples [from, to) the utterance's audio covers at its presentation times. */
  from: number;
  to: number;
}

export interface Reference {
  signal: Float32Array;
  utterances: PlacedUtterance[];
}

/**
 * Lays out f32 frames (received at the capture's rate, with `?timing=true`) where their presentation times put them
 * on the capture's clock: sample 0 of the capture was played at `capture.startedAt` (epoch ms, the relay clock's).
 */
export function placeAtPresentationTimes(messages: ListenerMessage[], frames: AudioFrame[], capture: Capture): Reference {
  const signal = new Float32Array(capture.kitchen.length);
  const timings = messages.filter((m): m is Timing => m.type === 'timing');
  const spans = new Map<number, PlacedUtterance>();
  for (const frame of frames) {
    const samples = new Float32Array(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength >> 2);
    const placed = timings.filter((t) => t.utterance === frame.utterance && t.sample < frame.sampleOffset + samples.length);
    for (let k = 0; k < samples.length; k++) {
      const sample = frame.sampleOffset + k;
      while (placed.length > 1 && placed[1]!.sample <= sample) placed.shift();
      const timing = placed[0];
      if (!timing || timing.sample > sample) continue;
      const at = timing.at + ((sample - timing.sample) / capture.rate) * 1000;
      const index = Math.round(((at - capture.startedAt) / 1000) * capture.rate);
      if (index < 0 || index >= signal.length) continue;
      signal[index] = samples[k]!;
      const span = spans.get(frame.utterance);
      if (span) [span.from, span.to] = [Math.min(span.from, index), Math.max(span.to, index + 1)];
      else spans.set(frame.utterance, { utterance: frame.utterance, from: index, to: index + 1 });
    }
  }
  return { signal, utterances: [...spans.values()].sort((a, b) => a.utterance - b.utterance) };
}

/** How much later than its presentation time `room` played each utterance, ms (cross-correlated, ±maxLagMs). */
export function latenessPerUtterance(reference: Reference, room: Float32Array, rate: number, maxLagMs = 400): number[] {
  return reference.utterances.map(({ from, to }) => offsetMs(reference.signal, room, rate, from, to, maxLagMs));
}
