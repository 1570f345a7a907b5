/** The relay clock of the listener protocol (shared/protocol.ts `relayClockSchema`), from the relay's monotonic readings. */

/** Relay clock (Unix-epoch milliseconds) at a reading of the relay's `now()` (performance.now() by default). */
export function relayClockAt(reading: number): number {
  return performance.timeOrigin + reading;
}
