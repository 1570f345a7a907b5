/**
 * Heartbeats go out to one slice of the streams at a time, a slice every heartbeatMs / HEARTBEAT_SLICES, so each
 * listener still hears one every heartbeatMs but the event loop never writes to every listener in one turn: at 2,000
 * listeners that turn took 40-150 ms (load 17), and whatever arrived meanwhile (a speak request, a provider's first
 * chunk) waited it out.
 */
import { unrefTimer } from '../../shared/timers.ts';

const HEARTBEAT_SLICES = 8;

export class HeartbeatSlices {
  private due = 0;
  private joined = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(heartbeatMs: number, beat: (slice: number) => void) {
    this.timer = setInterval(() => {
      const slice = this.due;
      this.due = (slice + 1) % HEARTBEAT_SLICES;
      beat(slice);
    }, heartbeatMs / HEARTBEAT_SLICES);
    unrefTimer(this.timer);
  }

  /** The slice a new stream joins: in turn, so the slices stay even as streams come and go. */
  assign(): number {
    return this.joined++ % HEARTBEAT_SLICES;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
