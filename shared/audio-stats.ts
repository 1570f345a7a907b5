/** Loudness and length measures over Float32 samples: enough to tell speech from silence in a test. */

/** Root mean square of the samples (0 for none). */
export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length);
}

/** Largest absolute sample value (0 for none). */
export function peak(samples: Float32Array): number {
  let max = 0;
  for (let i = 0; i < samples.length; i++) {
    const magnitude = Math.abs(samples[i]!);
    if (magnitude > max) max = magnitude;
  }
  return max;
}

/** A linear amplitude in dB relative to full scale; silence is -Infinity. */
export function toDecibels(amplitude: number): number {
  return 20 * Math.log10(amplitude);
}

/** RMS of consecutive windows of `windowSize` samples (the last one may be shorter). */
export function windowedRms(samples: Float32Array, windowSize: number): Float32Array {
  if (!Number.isInteger(windowSize) || windowSize <= 0) throw new RangeError(`Window size must be a positive integer; got ${windowSize}.`);
  const windows = new Float32Array(Math.ceil(samples.length / windowSize));
  for (let w = 0; w < windows.length; w++) windows[w] = rms(samples.subarray(w * windowSize, (w + 1) * windowSize));
  return windows;
}

/**
 * Fraction of 20 ms windows louder than `thresholdDb` (default −40 dBFS): near 0 for silence,
 * well above it for speech, near 1 for a steady tone.
 */
export function activeFraction(samples: Float32Array, sampleRate: number, thresholdDb = -40): number {
  const windows = windowedRms(samples, Math.max(1, Math.round(sampleRate * 0.02)));
  if (windows.length === 0) return 0;
  let active = 0;
  for (let w = 0; w < windows.length; w++) if (toDecibels(windows[w]!) > thresholdDb) active++;
  return active / windows.length;
}

/** Seconds that `sampleCount` samples last at `sampleRate`. */
export function durationSeconds(sampleCount: number, sampleRate: number): number {
  return sampleCount / sampleRate;
}
