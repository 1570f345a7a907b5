/**
 * The in-step recording (`--out` with a player) against the real Scheduler and TimelineWav, driven tick by tick on a
 * device clock the test sets: where each sample lands in the file, with nothing waiting on the machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeSamples } from '../../shared/codecs.ts';
import { parseWav } from '../../shared/wav.ts';
import { Scheduler, TICK_MS, type Output } from '../../agent/playout/scheduler.ts';
import { timelinePath, TimelineWav } from '../../agent/playout/timeline-wav.ts';

const RATE = 8000;
const LEAD_MS = 100;

/** A device that plays output sample n at local `base + n / RATE`; the test moves `base` as an underrun would. */
class Device implements Output {
  base = 0;
  readonly clock = { base: () => this.base, measured: () => true };
  write(): void {}
  async restart(): Promise<void> {}
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'timeline-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the in-step recording', () => {
  it('keeps an underrun as silence, so the audio after it lands where it is heard', () => {
    const device = new Device();
    const path = join(dir, 'out.wav');
    const wav = new TimelineWav(path, { encoding: 'pcm_f32le', sampleRate: RATE });
    let now = 0;
    const scheduler = new Scheduler({ rate: RATE, latencyMs: 0, gain: 1, leadMs: LEAD_MS, offset: () => 0, now: () => now, output: device, wav, heard: null });
    // Two seconds of audio presented from local (= relay) 200 ms.
    scheduler.content.anchor(1, 0, 200);
    scheduler.content.add(1, 0, new Float32Array(2 * RATE).fill(0.5));
    for (; now < 1000; now += TICK_MS) scheduler.tick(now);
    // The player ran dry for 150 ms: everything it plays from now on is heard that much later.
    device.base += 150;
    for (; now < 2500; now += TICK_MS) scheduler.tick(now);
    wav.finalise({ ...scheduler.countsJSON() });

    const timeline = JSON.parse(readFileSync(timelinePath(path), 'utf8')) as { start_at: number; late_samples: number; utterances: Array<{ start_sample: number; samples: number }> };
    const [heard] = timeline.utterances;
    expect(timeline.start_at).toBe(200);
    expect(timeline.late_samples).toBe((150 * RATE) / 1000);
    // The utterance ends in the file where it ends on the relay's clock, its last 150 ms skipped as late.
    expect(heard!.start_sample + heard!.samples).toBe(2 * RATE);
    const samples = decodeSamples('pcm_f32le', parseWav(readFileSync(path)).data);
    const silent = samples.reduce((count, sample) => count + (sample === 0 ? 1 : 0), 0);
    expect(silent).toBe((150 * RATE) / 1000);
  });
});
