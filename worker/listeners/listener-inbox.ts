/**
 * What a listener may send on its socket (shared/protocol.ts `listenerClientMessageSchema`): clock pings,
 * answered at once with the relay clock, and `played` reports, handed on. Anything else is a protocol error
 * that closes the socket.
 */
import { RelayError, toRelayError } from '../../shared/errors.ts';
import { type ListenerMessage, parseListenerClientMessage, type Played } from '../../shared/protocol.ts';
import { RateLimiter } from '../security/rate-limit.ts';

/** A listener syncs its clock with a burst of pings, then about one a second; pings past this go unanswered. */
const CLOCK_PING_RATE = { perSecond: 10, burst: 20 };

export type ListenerInbox = (data: unknown) => RelayError | null;

/** Handles one listener's incoming frames; returns the error to close with, or null. */
export function listenerInbox(send: (text: string) => void, clock: () => number, now: () => number, onPlayed: (report: Played) => void): ListenerInbox {
  const limiter = new RateLimiter(now);
  return (data) => {
    const received = clock();
    const message = typeof data === 'string' ? parseListenerClientMessage(data) : null;
    if (message === null) return new RelayError('invalid_message', 'Listeners send only clock_ping and played messages (JSON text frames).');
    if (message.type === 'played') {
      // Its own rate cap is in the reports (a flood throws rate_limited, which closes this listener).
      try {
        onPlayed(message);
        return null;
      } catch (error) {
        return toRelayError(error, 'invalid_message');
      }
    }
    try {
      limiter.take('clock', CLOCK_PING_RATE);
    } catch {
      return null;
    }
    send(JSON.stringify({ type: 'clock_pong', id: message.id, t0: message.t0, t1: received, t2: clock() } satisfies ListenerMessage));
    return null;
  };
}
