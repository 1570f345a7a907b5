/**
 * A format channel's listeners as an array, each listener keeping its own place in it: an idle listener costs its
 * channel one array slot and a number, where a Set entry cost it three to eight words. Iterated from the end, so
 * removing the listener being visited (a slow reader, a failed send) skips none.
 */
import type { Listener } from './listener.ts';

export class ListenerList implements Iterable<Listener> {
  private readonly items: Listener[] = [];

  get size(): number {
    return this.items.length;
  }

  has(listener: Listener): boolean {
    return this.items[listener.place] === listener;
  }

  add(listener: Listener): void {
    if (this.has(listener)) return;
    listener.place = this.items.length;
    this.items.push(listener);
  }

  delete(listener: Listener): boolean {
    if (!this.has(listener)) return false;
    const last = this.items.pop()!;
    if (last !== listener) {
      this.items[listener.place] = last;
      last.place = listener.place;
    }
    listener.place = -1;
    return true;
  }

  *[Symbol.iterator](): Iterator<Listener> {
    for (let i = this.items.length - 1; i >= 0; i--) if (i < this.items.length) yield this.items[i]!;
  }

  /** Visits every listener as the iterator does, without allocating: for sweeps that run every second. */
  forEach(visit: (listener: Listener) => void): void {
    for (let i = this.items.length - 1; i >= 0; i--) if (i < this.items.length) visit(this.items[i]!);
  }
}
