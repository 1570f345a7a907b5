/** The relay clock of the listener protocol (shared/protocol.ts `relayClockSchema`), from the relay's monotonic readings. */
import { EPOCH_ORIGIN } from '../../shared/clock-estimator.js';

/** Relay clock (Unix-epoch milliseconds) at a reading of the relay's `now()` (performance.now() by default). */
export function relayClockAt(reading: number): number {
  return EPOCH_ORIGIN + reading;
}
