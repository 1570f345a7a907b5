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
}

/** No device: a sample is "heard" as it is written (a recording with --player none). */
export class WrittenClock implements OutputClock {
  private readonly started = localClock();
  base(): number {
    return this.started;
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

export class FfplayStatsClock implements OutputClock {
  private readings: number[] = [];
  private cached: number | null = null;

  constructor(private readonly guess: number) {}

  /** One `-stats` reading: ffplay hears input second `clockSeconds` at local ms `at`. */
  reading(clockSeconds: number, at: number): void {
    if (!Number.isFinite(clockSeconds) || clockSeconds <= 0) return;
    this.readings.push(at - clockSeconds * 1000);
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

/** The master clock of an ffplay `-stats` line ("  12.34 M-A: ..." or "  12.34 A: ..."); null for "nan". */
export function parseStatsClock(line: string): number | null {
  const match = /^\s*(-?\d+\.\d+)\s+(?:M-A|A|M-V|V):/.exec(line);
  return match === null ? null : Number(match[1]);
}
