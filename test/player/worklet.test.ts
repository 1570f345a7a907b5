/**
 * The player's AudioWorklet processor driven in Node through a fake worklet scope: off step, the jitter buffer's
 * target grows after an underrun and eases back with clean playback; in step, audio is played at its presentation
 * time, an underrun is late audio skipped ahead to where it belongs, and the target does not apply.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPlayerProcessor, QUANTUM, WorkletDriver } from './worklet-scope.ts';

const RATE = 48_000;
const ms = (value: number) => (value / 1000) * RATE;

describe('the player worklet', () => {
  let Processor: Awaited<ReturnType<typeof loadPlayerProcessor>>;
  beforeAll(async () => {
    Processor = await loadPlayerProcessor(RATE);
  });

  it('off step, doubles its target after an underrun, waits for it, and eases it back while playback is clean', () => {
    const player = new WorkletDriver(Processor, RATE);
    player.audio(1, 0, ms(100));
    player.quantum();
    // 100 ms is more than the 60 ms target: playback starts at once and plays every frame it has.
    expect(player.firstSound()).toBe(0);
    while (player.posted('underrun').length === 0 && player.frame < ms(200)) player.quantum();
    expect(player.output.filter((value) => value !== 0)).toHaveLength(ms(100));
    expect(player.posted('underrun')).toEqual([{ type: 'underrun', targetMs: 120 }]);

    // Less than the grown target stays buffered, unheard.
    player.audio(1, ms(100), ms(100));
    const waitFrom = player.frame;
    player.runTo(player.frame + 10 * QUANTUM);
    expect(player.firstSound(waitFrom)).toBe(-1);
    expect(player.lastPosition()).toMatchObject({ state: 'buffering', bufferedMs: 100, targetMs: 120, underruns: 1 });
    player.audio(1, ms(200), ms(20));
    const resumeFrom = player.frame;
    player.quantum();
    expect(player.firstSound(resumeFrom)).toBe(resumeFrom);

    // Fifteen seconds of clean playback: the target eases back by a quarter every 5 s, down to 60 ms.
    let sent = ms(220);
    const targets = new Set<unknown>();
    while (player.frame < resumeFrom + ms(16_000)) {
      if ((player.lastPosition().bufferedMs as number) < 500) {
        player.audio(1, sent, ms(1000));
        sent += ms(1000);
      }
      player.quantum();
      targets.add(player.lastPosition().targetMs);
    }
    expect([...targets]).toEqual([120, 90, 67.5, 60]);
    expect(player.lastPosition()).toMatchObject({ underruns: 1, late: 0, skippedSeconds: 0 });
  });

  it('in step, plays at presentation times, skips late audio as an underrun without a target, and keeps gaps silent', () => {
    const player = new WorkletDriver(Processor, RATE);
    // Context time 0 is heard at relay time 1 000 000 ms; sample 0 of utterance 1 is due 100 ms later.
    player.send({ type: 'sync', on: true });
    player.send({ type: 'clock', relay: 1_000_000, context: 0 });
    player.send({ type: 'timing', utterance: 1, sample: 0, at: 1_000_100 });
    player.audio(1, 0, ms(200));
    player.runTo(ms(50));
    expect(player.lastPosition()).toMatchObject({ state: 'waiting', targetMs: null, utterance: 1, sample: 0 });
    player.runTo(ms(400));
    expect(player.firstSound()).toBe(ms(100));
    expect(player.output.slice(ms(100), ms(300)).every((value) => value === 0.5)).toBe(true);
    // The ring ran dry at 300 ms; that alone is no underrun: it depends on when the next audio was due.
    expect(player.posted('underrun')).toEqual([]);

    // The next 200 ms, due from 300 ms, arrives at 400 ms: its first 100 ms are skipped, the rest heard on time.
    player.audio(1, ms(200), ms(200));
    player.quantum();
    expect(player.firstSound(ms(300))).toBe(ms(400));
    expect(player.posted('underrun')).toEqual([{ type: 'underrun', targetMs: null }]);
    const head = player.processor as unknown as { ring: { head(): { sample: number } | null }; targetFrames: number };
    expect(head.ring.head()?.sample).toBe(player.frame - ms(100));
    expect(head.targetFrames).toBe(ms(60));
    player.runTo(ms(520));
    expect(player.lastPosition()).toMatchObject({ underruns: 1, late: 1, skippedSeconds: 0.1, targetMs: null });

    // It ran dry again at 500 ms; the next stretch comes early (the relay's explicit gap): silence until it is due.
    player.send({ type: 'timing', utterance: 1, sample: ms(400), at: 1_000_700 });
    player.audio(1, ms(400), ms(100));
    player.send({ type: 'end', utterance: 1 });
    player.runTo(ms(900));
    expect(player.firstSound(ms(500))).toBe(ms(700));
    expect(player.output.slice(ms(700), ms(800)).every((value) => value === 0.5)).toBe(true);
    expect(player.firstSound(ms(800))).toBe(-1);
    expect(player.posted('underrun')).toHaveLength(1);
    expect(player.posted('played')).toEqual([{ type: 'played', utterance: 1, frames: ms(400), seconds: 0.4, skippedSeconds: 0.1, complete: true }]);
    expect(player.lastPosition()).toMatchObject({ state: 'idle', underruns: 1, late: 1 });
  });
});
