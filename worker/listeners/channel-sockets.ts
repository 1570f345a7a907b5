/**
 * The sockets of one format channel. Where the runtime offers a socket group (Node: each message framed
 * once and the same bytes written to every socket; Bun: one publish to a topic), a message costs one call
 * for all of them; other sockets (Deno, tests' fakes) are written one by one. Slow readers are found by a
 * sweep while audio flows (its interval set by the listener hub), not per frame and listener.
 */
import type { SocketGroup } from '../runtime/contract.ts';
import type { Listener } from './listener.ts';

/** A channel's listeners: a ListenerList, or a Set where a listener's place is already taken by another list. */
export type ChannelMembers = Iterable<Listener> & {
  readonly size: number;
  has(listener: Listener): boolean;
  add(listener: Listener): unknown;
  delete(listener: Listener): boolean;
  forEach(visit: (listener: Listener) => void): void;
};

export class ChannelSockets {
  /** Listeners written one by one: their socket joins no group, or another runtime's. */
  readonly direct = new Set<Listener>();
  private group: SocketGroup | null = null;
  private groupSource: (() => SocketGroup) | null = null;
  private grouped = 0;
  private sweptAt = 0;

  /** Every listener of the channel. */
  constructor(readonly all: ChannelMembers) {}

  get size(): number {
    return this.all.size;
  }

  [Symbol.iterator](): Iterator<Listener> {
    return this.all[Symbol.iterator]();
  }

  has(listener: Listener): boolean {
    return this.all.has(listener);
  }

  /** Visits every listener without allocating (an iterator allocates in JSC's lower tiers): the sweeps' way. */
  forEach(visit: (listener: Listener) => void): void {
    this.all.forEach(visit);
  }

  add(listener: Listener): void {
    this.all.add(listener);
    const { socket } = listener;
    if (socket.ws && socket.newGroup && (this.groupSource ?? socket.newGroup) === socket.newGroup) {
      this.groupSource = socket.newGroup;
      this.group ??= socket.newGroup();
      this.group.add(socket.ws);
      this.grouped++;
    } else {
      this.direct.add(listener);
    }
  }

  delete(listener: Listener): boolean {
    if (!this.all.delete(listener)) return false;
    if (!this.direct.delete(listener) && this.group && listener.socket.ws) {
      this.group.delete(listener.socket.ws);
      this.grouped--;
    }
    return true;
  }

  /** True when every socket is in a group whose send copies what it is given: a frame's bytes may then be reused. */
  get copiesOnSend(): boolean {
    return this.direct.size === 0 && this.group?.copiesOnSend === true;
  }

  /** Writes one message to every grouped socket at once; returns how many sockets it went to. */
  sendGrouped(data: string | Uint8Array): number {
    return this.group && this.grouped > 0 ? this.group.send(data) : 0;
  }

  /** True once every `intervalMs` of sending: time to look for grouped readers that fell behind. */
  sweepDue(now: number, intervalMs: number): boolean {
    if (this.grouped === 0 || now - this.sweptAt < intervalMs) return false;
    this.sweptAt = now;
    return true;
  }
}
