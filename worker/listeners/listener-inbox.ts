/**
 * What a listener may send on its socket (shared/protocol.ts `listenerClientMessageSchema`): clock pings,
 * answered at once with the relay clock, and `played` reports, handed on. Anything else is a protocol error
 * that closes the socket.
 */
import { RelayError, toRelayError } from '../../shared/errors.ts';
import { type ListenerMessage, parseListenerClientMessage } from '../../shared/protocol.ts';
import type { Listener } from './listener.ts';
import type { PlaybackReports } from './played-reports.ts';

/** A listener syncs its clock with a burst of pings, then about one a second; pings past this go unanswered. */
const CLOCK_PING_RATE = { perSecond: 10, burst: 20 };

/** One listener's incoming frames, with its clock-ping allowance (a token bucket in two numbers, not a limiter's map). */
export class ListenerInbox {
  private pings: number = CLOCK_PING_RATE.burst;
  private refilledAt: number;

  constructor(
    private readonly socket: { send(text: string): void },
    private readonly clock: () => number,
    private readonly now: () => number,
  ) {
    this.refilledAt = now();
  }

  /** Handles one frame from `listener`; returns the error to close its socket with, or null. */
  receive(data: unknown, reports: Pick<PlaybackReports, 'report'>, listener: Listener): RelayError | null {
    const received = this.clock();
    const message = typeof data === 'string' ? parseListenerClientMessage(data) : null;
    if (message === null) return new RelayError('invalid_message', 'Listeners send only clock_ping and played messages (JSON text frames).');
    if (message.type === 'played') {
      // Its own rate cap is in the reports (a flood throws rate_limited, which closes this listener).
      try {
        reports.report(listener, message);
        return null;
      } catch (error) {
        return toRelayError(error, 'invalid_message');
      }
    }
    if (!this.takePing()) return null;
    this.socket.send(JSON.stringify({ type: 'clock_pong', id: message.id, t0: message.t0, t1: received, t2: this.clock() } satisfies ListenerMessage));
    return null;
  }

  private takePing(): boolean {
    const now = this.now();
    this.pings = Math.min(CLOCK_PING_RATE.burst, this.pings + ((now - this.refilledAt) / 1000) * CLOCK_PING_RATE.perSecond);
    this.refilledAt = now;
    if (this.pings < 1) return false;
    this.pings -= 1;
    return true;
  }
}
