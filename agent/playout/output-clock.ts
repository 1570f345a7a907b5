/**
 * When an output sample is heard. Output samples are numbered from 0 per output process; sample n is heard
 * at local clock `base + n / rate`. For ffplay, `base` comes from its own `-stats` line: its audio clock
 * (seconds of input heard now, already net of SDL's device buffers) read against the local clock as the line
 * arrives. The line prints the clock to 10 ms every ~30 ms; the median of the last few seconds of readings
 * settles to well under a millisecond and follows the drift of the sound device against the local clock.
 */
import { localClock } from '../clock-sync.ts';

export interface OutputClock {
  /** Local ms at which output sample 0 is heard; null while not known yet. */
  base(): number | null;
  /** Whether base() is measured rather than guessed. */
  measured(): boolean;
}

/** No device: a sample is "heard" as it is written (a recording with --player none). */
export class WrittenClock implements OutputClock {
  private readonly started = localClock();
  base(): number {
    return this.started;
  }
  measured(): boolean {
    return true;
  }
}

/**
 * At most about six seconds of readings (one per ~30 ms): the 10 ms rounding and the callback jitter average out. A
 * plain two-second window made the second utterance after a 1.5 s pause lose 0.8-1.1 s as late at PulseAudio in two
 * runs of three (not traced); a plain six-second one kept ffplay's start-up readings, 100 ms and more off at
 * PulseAudio on a busy machine, for six seconds, and with them the first utterance after a start.
 */
const WINDOW_READINGS = 200;
/** About a second of readings: the stretch that decides whether the device's latency stepped. */
const RECENT_READINGS = 30;
/**
 * A step: the last second's median this far from the older readings' (at PulseAudio the readings' one-second medians
 * wander ±5 ms while the device does not; start-up and underruns step them by tens to hundreds of ms).
 */
const STEP_MS = 8;
/** ffplay's clock only runs forward, in 10 ms steps: one this far back has restarted (its device really started). */
const RESTART_MS = 50;

export class FfplayStatsClock implements OutputClock {
  private readings: number[] = [];
  private cached: number | null = null;
  private lastClockMs = -Infinity;

  /**
   * `guess`: local ms of output sample 0 until measured. `queueLimitBytes`: the most ffplay's packet queue holds
   * while it plays what it is fed (the writer's lead ahead of the clock, and a packet).
   */
  constructor(
    private readonly guess: number,
    private readonly queueLimitBytes = Infinity,
  ) {}

  /**
   * One `-stats` line: ffplay hears input second `clockSeconds` at local ms `at`, its packet queue holding
   * `queuedBytes`. A queue past the limit means the clock runs on while the device takes nothing (ffplay at
   * PulseAudio for its first second or two: the clock runs from the first callback, then restarts at 0 when
   * the device really starts): that reading, and the ones before it, say nothing of what is heard.
   */
  reading(clockSeconds: number, at: number, queuedBytes = 0): void {
    if (queuedBytes > this.queueLimitBytes) {
      this.readings = [];
      this.cached = null;
      return;
    }
    if (!Number.isFinite(clockSeconds) || clockSeconds <= 0) return;
    const clockMs = clockSeconds * 1000;
    // A restart with a queue under the limit (seen once in six starts: the clock ran 0.3 s on 3 KB, then restarted).
    if (clockMs < this.lastClockMs - RESTART_MS) this.readings = [];
    this.lastClockMs = clockMs;
    this.readings.push(at - clockMs);
    if (this.readings.length > WINDOW_READINGS) this.readings.shift();
    this.cached = null;
    if (this.stepped()) this.readings = this.readings.slice(-RECENT_READINGS);
  }

  /** Until ffplay plays, the guess (its start-up time from an earlier start, or a default). */
  base(): number {
    if (this.readings.length === 0) return this.guess;
    this.cached ??= median(this.readings);
    return this.cached;
  }

  /** The last second of readings disagrees with the ones before: what came before a step no longer says anything. */
  private stepped(): boolean {
    const older = this.readings.length - RECENT_READINGS;
    if (older < RECENT_READINGS) return false;
    return Math.abs(median(this.readings.slice(older)) - median(this.readings.slice(0, older))) > STEP_MS;
  }

  measured(): boolean {
    return this.readings.length > 0;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

export interface StatsLine {
  /** The master clock, seconds of input heard now. */
  clock: number;
  /** The audio packet queue ("aq=   12KB"), bytes; 0 when the line has none. */
  queuedBytes: number;
}

/** An ffplay `-stats` line ("  12.34 M-A:  0.000 fd=   0 aq=   12KB ..."); null for "nan" or any other line. */
export function parseStatsLine(line: string): StatsLine | null {
  const match = /^\s*(-?\d+\.\d+)\s+(?:M-A|A|M-V|V):/.exec(line);
  if (match === null) return null;
  const queue = /\baq=\s*(\d+)KB/.exec(line);
  return { clock: Number(match[1]), queuedBytes: queue === null ? 0 : Number(queue[1]) * 1024 };
}
