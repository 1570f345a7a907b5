/**
 * ffplay's output clock from its `-stats` lines, as they come at PulseAudio: readings ~30 ms apart with the clock
 * rounded to 10 ms; at start-up a clock that runs while the device takes nothing (the packet queue fills), then
 * restarts at 0 when the device really starts; later a step when the device underruns.
 */
import { describe, expect, it } from 'vitest';
import { FfplayStatsClock, parseStatsLine } from '../../agent/playout/output-clock.ts';

const LIMIT = 20 * 1024;

/** Readings every 30 ms from local ms `from` to `to` of a device that played input second 0 at `base`. */
function play(clock: FfplayStatsClock, base: number, from: number, to: number, queued: (at: number) => number = () => 0): void {
  for (let at = from; at < to; at += 30) clock.reading(Math.floor((at - base) / 10) / 100, at, queued(at));
}

describe('the ffplay output clock', () => {
  it('reads the clock and the packet queue of a -stats line, and nothing of any other', () => {
    expect(parseStatsLine('   1.56 M-A:  0.000 fd=   0 aq=   89KB vq=    0KB sq=    0B f=0/0   ')).toEqual({ clock: 1.56, queuedBytes: 89 * 1024 });
    expect(parseStatsLine('  -0.03 A: ...')).toEqual({ clock: -0.03, queuedBytes: 0 });
    expect(parseStatsLine('    nan M-A:    nan fd=   0 aq=    0KB')).toBeNull();
    expect(parseStatsLine('pipe:: Invalid data found when processing input')).toBeNull();
  });

  it('is a guess until ffplay reads, then the median of its readings to the rounding', () => {
    const clock = new FfplayStatsClock(1120, LIMIT);
    expect(clock.measured()).toBe(false);
    expect(clock.base()).toBe(1120);
    play(clock, 2000, 2030, 5000);
    expect(clock.measured()).toBe(true);
    expect(Math.abs(clock.base() - 2005)).toBeLessThanOrEqual(5);
  });

  it('forgets a start-up clock that ran while ffplay hoarded its input, and measures where the device really started', () => {
    const clock = new FfplayStatsClock(1120, LIMIT);
    // The first callback at 1100; the device takes nothing until 2600 while the queue fills with what is written.
    play(clock, 1100, 1130, 2600, (at) => Math.min(90 * 1024, (at - 1100) * 88));
    expect(clock.measured(), 'the hoard gave the readings away').toBe(false);
    // The device starts at 2600 with input second 0, the queue drained as it plays.
    play(clock, 2600, 2630, 4000);
    expect(clock.measured()).toBe(true);
    expect(Math.abs(clock.base() - 2605)).toBeLessThanOrEqual(5);
  });

  it('forgets a start-up clock that restarts at 0 even when the queue never showed the hoard', () => {
    const clock = new FfplayStatsClock(1120, LIMIT);
    // The clock runs from 1100 on a queue within the limit, then restarts at 0 when the device starts at 1410.
    play(clock, 1100, 1130, 1410);
    play(clock, 1410, 1440, 1500);
    expect(Math.abs(clock.base() - 1415), 'the readings before the restart still counted').toBeLessThanOrEqual(5);
  });

  it('follows a step of the device within about a second, not the six the median spans', () => {
    const clock = new FfplayStatsClock(0, LIMIT);
    play(clock, 1000, 1030, 7000);
    // An underrun: from 7000 the device plays every input sample 300 ms later.
    play(clock, 1300, 7000, 8500);
    expect(Math.abs(clock.base() - 1305)).toBeLessThanOrEqual(5);
  });
});
