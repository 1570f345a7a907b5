/** Where received audio goes: a player, a file, a pipe. The listen command drives any number of them. */
import type { AudioFrame, UtteranceEnd, UtteranceStart, WireFormat } from '../../shared/protocol.ts';

export interface AudioSink {
  /** Called on every hello; the format can differ after a reconnect. May throw an AgentError. */
  setFormat(format: WireFormat): void;
  utteranceStart(message: UtteranceStart): void;
  /** Queues the payload; a sink applies backpressure to its own output, never to the socket. */
  write(frame: AudioFrame): void;
  utteranceEnd(message: UtteranceEnd): void;
  /** The connection dropped: make what was written so far durable. */
  disconnected(): void;
  /** Lets queued audio play or flush out, then releases everything. */
  finish(): Promise<void>;
  /** Stops at once (signals, fatal errors), keeping what is already written valid. */
  abort(): Promise<void>;
}

/** A sink reports failures it cannot recover from (a player that died, a disk that is full) through this. */
export type SinkFailure = (error: unknown) => void;
