import { describe, expect, it } from 'vitest';
import { PlayoutContent } from '../../agent/playout/content.ts';

const ramp = (length: number) => Float32Array.from({ length }, (_, i) => (i + 1) / length);

describe("audio placed on the relay clock", () => {
  it("plays every sample once, in order, when its positions fall half a sample off the cursor", () => {
    // At 1 kHz a relay ms is one position: the utterance starts at 10.5, between two output samples.
    const content = new PlayoutContent(1000);
    const audio = ramp(100);
    content.anchor(1, 0, 10.5);
    content.add(1, 0, audio);
    const heard: number[] = [];
    for (let cursor = 0; cursor < 200; cursor += 40) {
      const out = new Float32Array(40);
      content.read(cursor, out, 0, out.length);
      heard.push(...out);
    }
    const first = heard.findIndex((sample) => sample !== 0);
    expect(first).toBe(11);
    expect(heard.slice(first, first + audio.length)).toEqual([...audio]);
    expect(heard.slice(first + audio.length).every((sample) => sample === 0)).toBe(true);
    expect(content.lateSamples).toBe(0);
  });

  it("keeps within the output span at any fractional offset", () => {
    for (const origin of [0.25, 0.5, 0.75, 1.5, 2.5]) {
      const content = new PlayoutContent(1000);
      content.anchor(1, 0, origin);
      content.add(1, 0, ramp(64));
      const out = new Float32Array(48);
      const spans = [...content.read(0, out, 8, 32), ...content.read(32, out, 40, 8)];
      for (const span of spans) {
        expect(span.offset).toBeGreaterThanOrEqual(8);
        expect(span.offset + span.count).toBeLessThanOrEqual(48);
      }
      expect(spans.reduce((sum, span) => sum + span.count, 0)).toBe(40 - Math.round(origin));
    }
  });

  it("counts audio that comes without its timing as lost, never drops it unseen", () => {
    const content = new PlayoutContent(1000);
    content.add(1, 40, ramp(20));
    expect(content.lateSamples).toBe(20);
    expect(content.next()).toBeNull();
    content.anchor(1, 0, 100);
    content.add(1, 0, ramp(40));
    expect(content.lateSamples).toBe(20);
    expect(content.next()).toBe(100);
  });
});
