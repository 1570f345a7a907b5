/** The WebSocket subprotocol answer, the same on every runtime: `tts-relay` when offered, never a token. */
import { selectSubprotocol } from '../security/auth.ts';

/** The protocol to answer an upgrade with, from its `Sec-WebSocket-Protocol` header; undefined when none was offered. */
export function answerSubprotocol(header: string | null | undefined): string | undefined {
  const offered = (header ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  return offered.length === 0 ? undefined : selectSubprotocol(offered);
}
