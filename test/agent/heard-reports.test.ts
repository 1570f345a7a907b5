/**
 * Issue 13's exact heard position, unit by unit: the real Scheduler writes to a device whose clock is the real
 * FfplayStatsClock fed `-stats` lines as ffplay prints them (its audio clock to 10 ms, about every 30 ms); the
 * real HeardClock and PlayedReporter say what was heard. On fake timers, so the figures are exact and nothing
 * waits on the machine.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PLAYED_REPORT_INTERVAL_MS, type Played } from '../../shared/protocol.ts';
import { PlayedReporter } from '../../agent/played-reporter.ts';
import { HeardClock } from '../../agent/playout/heard-clock.ts';
import { FfplayStatsClock, parseStatsLine } from '../../agent/playout/output-clock.ts';
import { Scheduler, TICK_MS, type Output } from '../../agent/playout/scheduler.ts';

const RATE = 8000;
const LEAD_MS = 100;
/** The device starts playing its sample 0 this long after it is opened (ffplay's start-up). */
const STARTUP_MS = 115;
/** The median of the device clock's readings moves by up to about a millisecond as readings come (scheduler.ts DEADBAND_MS). */
const WANDER = (2 * RATE) / 1000;

/** A sound device behind ffplay: plays sample n at `base + n / RATE`, and prints its audio clock as ffplay does. */
class Device implements Output {
  clock!: FfplayStatsClock;
  base = 0;
  handed = 0;
  restarts = 0;
  private printer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    this.open();
  }

  write(samples: Float32Array): void {
    this.handed += samples.length;
  }

  async restart(): Promise<void> {
    this.restarts++;
    this.open();
  }

  close(): void {
    if (this.printer) clearTimeout(this.printer);
  }

  private open(): void {
    this.close();
    this.base = Date.now() + STARTUP_MS;
    this.handed = 0;
    const clock = new FfplayStatsClock(Date.now() + 120);
    this.clock = clock;
    // ffplay's audio callback is not in phase with its 10 ms rounding: the lines come 27-33 ms apart (a fixed
    // seed), and their clock is taken at a sub-millisecond moment the fake clock cannot show.
    let seed = 7;
    const print = (): void => {
      seed = (seed * 48271) % 2147483647;
      const within = (seed % 1000) / 1000;
      const seconds = (Date.now() + within - this.base) / 1000;
      if (seconds > 0) clock.reading(parseStatsLine(`  ${seconds.toFixed(2)} A: ... aq=    0KB`)!.clock, Date.now() + within);
      this.printer = setTimeout(print, 27 + (seed % 7));
    };
    this.printer = setTimeout(print, 30);
  }
}

let device: Device;
let scheduler: Scheduler;
let heard: HeardClock;
/** Each report, with the time it was sent, what the device had been handed by then and its measured base. */
type Report = Played & { t: number; handed: number; base: number };
let reports: Report[];
let reporter: PlayedReporter;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  device = new Device();
  const now = (): number => Date.now();
  heard = new HeardClock(
    RATE,
    (utterance) => {
      const end = scheduler.content.endOf(utterance);
      const at = end === null ? null : scheduler.outputAtOfPosition(end.position);
      return end === null || at === null ? null : { samples: end.sample, outputAt: at };
    },
    0,
    now,
  );
  scheduler = new Scheduler({ rate: RATE, latencyMs: 0, gain: 1, leadMs: LEAD_MS, offset: () => 0, now, output: device, wav: null, heard });
  reports = [];
  reporter = new PlayedReporter(heard, (report) => reports.push({ ...report, t: Date.now(), handed: device.handed, base: device.clock.base() }));
  scheduler.start();
});

afterEach(() => {
  reporter.stop();
  scheduler.stop();
  device.close();
  vi.useRealTimers();
});

/** An utterance of `seconds` arrives at once, presented `inMs` from now (relay clock = local clock here). */
function arrive(utterance: number, seconds: number, inMs: number): { at: number; samples: number } {
  const at = Date.now() + inMs;
  const samples = Math.round(seconds * RATE);
  scheduler.content.anchor(utterance, 0, at);
  scheduler.content.add(utterance, 0, new Float32Array(samples).fill(0.25));
  reporter.wrote(utterance, samples);
  return { at, samples };
}

/** Samples of the utterance handed to the device by a report (placed at output index `(at − measured base) × rate`). */
function handedOf(report: Report, at: number, samples: number): number {
  const start = Math.round(((at - report.base) * RATE) / 1000);
  return Math.max(0, Math.min(samples, report.handed - start));
}

describe('HeardClock + PlayedReporter over the scheduler', () => {
  it('reports what was handed to the device minus its measured lead, at a bounded rate, and one final at the end', async () => {
    // Let the device clock settle (ffplay prints from its start-up on), then an utterance of 2 s.
    await vi.advanceTimersByTimeAsync(1000);
    expect(Math.abs(device.clock.base() - device.base)).toBeLessThanOrEqual(5);
    const { at, samples } = arrive(1, 2, 300);
    // The relay's end comes while it plays (it sends audio ahead of time): the reports go on until the final.
    await vi.advanceTimersByTimeAsync(500);
    reporter.ended(1, false);
    await vi.advanceTimersByTimeAsync(3000);
    const checks = reports
      .filter((r) => r.utterance === 1 && r.samples > 0 && handedOf(r, at, samples) < samples)
      .map((r) => ({ reported: r.samples, expected: handedOf(r, at, samples) - (LEAD_MS * RATE) / 1000 }));

    // While it plays: each report is what the device was handed less the lead it holds (to a tick: the report
    // may come just before the tick of the same millisecond; and to the measured clock's wander since the write).
    expect(checks.length).toBeGreaterThanOrEqual(4);
    for (const { reported, expected } of checks) {
      expect(reported).toBeLessThanOrEqual(expected + WANDER);
      expect(reported).toBeGreaterThanOrEqual(expected - (TICK_MS * RATE) / 1000 - WANDER);
    }
    // Bounded rate: the first at once, then at most one an interval.
    const mine = reports.filter((r) => r.utterance === 1);
    expect(mine[0]).toMatchObject({ samples: 0 });
    expect(mine.filter((r) => !r.final && r.t > at + 1000).length).toBeGreaterThanOrEqual(3);
    for (let i = 2; i < mine.length; i++) if (!mine[i]!.final) expect(mine[i]!.t - mine[i - 1]!.t).toBeGreaterThanOrEqual(PLAYED_REPORT_INTERVAL_MS);
    // One final, with all of it, once its last sample has been heard on the device's measured clock.
    const finals = mine.filter((r) => r.final);
    expect(finals).toHaveLength(1);
    expect(finals[0]!.samples).toBe(samples);
    const heardEnd = device.clock.base() + ((Math.round(((at - device.clock.base()) * RATE) / 1000) + samples) * 1000) / RATE;
    expect(finals[0]!.t).toBeGreaterThanOrEqual(Math.floor(heardEnd) - 1);
    expect(finals[0]!.t).toBeLessThanOrEqual(heardEnd + TICK_MS + 5);
  });

  it('a cut ahead of what the device holds: the final says the audio up to the cut, exactly, and the device is not restarted', async () => {
    await vi.advanceTimersByTimeAsync(1000);
    const { at } = arrive(2, 3, 300);
    await vi.advanceTimersByTimeAsync(1000);
    // The cut lands a sync delay (250 ms) ahead: past what the device was handed (its lead is 100 ms).
    const cutAt = Date.now() + 250;
    await scheduler.cut(2, cutAt);
    scheduler.content.forget(2);
    reporter.ended(2, true);
    await vi.advanceTimersByTimeAsync(1000);
    const finals = reports.filter((r) => r.utterance === 2 && r.final);
    expect(finals).toHaveLength(1);
    expect(Math.abs(finals[0]!.samples - ((cutAt - at) * RATE) / 1000)).toBeLessThanOrEqual(1);
    expect(device.restarts).toBe(0);
    // Nothing of it is handed after the cut: what follows is silence.
    expect(heard.played(2)).toBe(finals[0]!.samples);
  });

  it('a cut behind what the device holds: the device is restarted and the final says what was heard when it was', async () => {
    await vi.advanceTimersByTimeAsync(1000);
    const { at } = arrive(3, 3, 300);
    await vi.advanceTimersByTimeAsync(1000);
    const heardAtCut = heard.played(3);
    expect(heardAtCut).toBeGreaterThan(0.6 * RATE);
    await scheduler.cut(3, Date.now());
    scheduler.content.forget(3);
    reporter.ended(3, true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(device.restarts).toBe(1);
    const finals = reports.filter((r) => r.utterance === 3 && r.final);
    expect(finals).toHaveLength(1);
    expect(Math.abs(finals[0]!.samples - heardAtCut)).toBeLessThanOrEqual(1);
    expect(Math.abs(finals[0]!.samples - ((Date.now() - 1000 - at) * RATE) / 1000)).toBeLessThanOrEqual((5 * RATE) / 1000);
  });
});
