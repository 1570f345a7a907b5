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
 * About six seconds of readings (one per ~30 ms): the 10 ms rounding and the callback jitter average out. Two seconds
 * followed a step of the device's latency sooner, but at PulseAudio the second utterance after a pause of 1.5 s then
 * lost 0.8-1.1 s as late in two runs of three (some stretch of readings misleads a short median; not yet traced).
 */
const WINDOW_READINGS = 200;

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
  }

  /** Until ffplay plays, the guess (its start-up time from an earlier start, or a default). */
  base(): number {
    if (this.readings.length === 0) return this.guess;
    if (this.cached === null) {
      const sorted = [...this.readings].sort((a, b) => a - b);
      this.cached = sorted[sorted.length >> 1]!;
    }
    return this.cached;
  }

  measured(): boolean {
    return this.readings.length > 0;
  }
}

/** The master clock of an ffplay `-stats` line ("  12.34 M-A: ..." or "  12.34 A: ..."); null for "nan". */
export function parseStatsClock(line: string): number | null {
  const match = /^\s*(-?\d+\.\d+)\s+(?:M-A|A|M-V|V):/.exec(line);
  return match === null ? null : Number(match[1]);
}
