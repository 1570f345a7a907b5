/** An unbounded single-consumer async queue: producers `push`, one consumer iterates until `close`. */

export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake();
  }

  /** Ends iteration after the items already queued. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Ends iteration at once, dropping what is queued. */
  clear(): void {
    this.items.length = 0;
    this.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.items.length;
  }

  /** The next queued item without waiting, for a consumer that takes what one turn brought in one go. */
  take(): T | undefined {
    return this.items.shift();
  }

  /** Settles once an item is queued (true), or the queue is closed with none left (false). */
  async arrival(): Promise<boolean> {
    while (this.items.length === 0) {
      if (this.closed) return false;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return true;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift() as T;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
