/** A listener as this instance's registry holds it, the socket port it writes to, and the registry's interface. */
import type { AudioFormat } from '../../shared/audio-format.ts';
import type { RuntimeSocket, SocketGroup } from '../runtime/contract.ts';

/** What the listener hub needs of a WebSocket; each runtime maps its native socket onto it. */
export interface ListenerSocket {
  send(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  /** Bytes queued in the socket and not yet written to the network. */
  bufferedAmount(): number;
  isOpen(): boolean;
  /** The runtime's socket and its groups, where the runtime can write one message to many sockets at once. */
  readonly ws?: RuntimeSocket;
  readonly newGroup?: () => SocketGroup;
}

export interface Listener {
  readonly id: string;
  readonly stream: string;
  readonly format: AudioFormat;
  readonly socket: ListenerSocket;
  /** Asked for presentation times (`?timing=true`): gets the `timing` messages. */
  readonly timing: boolean;
  /** Its index in its format channel's list (listener-list.ts), -1 outside one: the registry's to set. */
  place: number;
}

/**
 * A listener that is its own record (a listener connection: one object per listener, not two), with its own id. The
 * registry gives it, as it joins, the stream's name as the registry holds it.
 */
export interface ListenerRecord extends Listener {
  stream: string;
}

export interface ListenOptions {
  /** `utterance`: start with the current utterance from its beginning, as far as the broker kept it. */
  from?: 'utterance';
  /** Send this listener `timing` messages. */
  timing?: boolean;
}

/** What an ingress may do with this instance's listeners: add (or admit) and remove one, count them, see their formats. */
export interface ListenerRegistry {
  add(stream: string, format: AudioFormat, socket: ListenerSocket, options?: ListenOptions): Listener;
  /** Registers a listener that is its own record, as `add` does. */
  admit(listener: ListenerRecord, options?: ListenOptions): Listener;
  remove(listener: Listener): void;
  count(stream: string): number;
  formats(stream: string): Array<{ format: AudioFormat; listeners: number }>;
}
