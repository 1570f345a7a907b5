/**
 * One budget for the unsent audio of every listener on this instance. The bound per listener
 * (RELAY_LISTENER_MAX_BUFFERED_SECONDS) alone lets memory grow with the number of listeners: 1,000 listeners of a
 * stream that stop reading may each hold 30 s of 48 kHz f32 (5.8 MB) before they are dropped, 5.8 GB a stream, and a
 * few such streams make a relay of tens of GB. Past the budget the listeners holding the most go first.
 */
import type { Listener } from './listener.ts';

/** What the budget reads: every listener of every stream, visited without allocating. */
export interface EveryListener {
  forEach(visit: (group: { forEachListener(visit: (listener: Listener) => void): void }) => void): void;
}

const NONE: readonly Listener[] = Object.freeze([]);
/** How often the instance-wide budget is checked. */
export const BUDGET_CHECK_MS = 1000;

/** Checked every second: a listener is dropped for the budget only when two checks in a row are over it (not one burst of frames just handed out). */
export class BufferBudget {
  private total = 0;
  private overBefore = false;
  private readonly add = (listener: Listener): void => {
    const bytes = listener.socket.bufferedAmount();
    if (bytes > 0) this.total += bytes;
  };
  private readonly addStream = (group: { forEachListener(visit: (listener: Listener) => void): void }): void => group.forEachListener(this.add);

  constructor(private readonly budgetBytes: number) {}

  /** The listeners to drop now: over the budget at this check and the one before, the fullest first. */
  check(streams: EveryListener): readonly Listener[] {
    const drop = this.overBudget(streams);
    const dropNow = this.overBefore ? drop : NONE;
    this.overBefore = drop.length > 0;
    return dropNow;
  }

  /**
   * The listeners to drop so that what the rest hold fits in the budget, fullest first; none while it fits. It runs
   * every second whatever the traffic, so a check that finds the budget kept allocates nothing: on Bun any steady
   * allocation keeps the runtime's collection timer running once a second.
   */
  overBudget(streams: EveryListener): readonly Listener[] {
    this.total = 0;
    streams.forEach(this.addStream);
    return this.total <= this.budgetBytes ? NONE : this.fullestPast(streams);
  }

  /**
   * The fullest listeners, until the rest fit. Apart from overBudget because on JSC (Bun) a method whose closures
   * capture its locals allocates a scope object at every call, even when it returns before making them.
   */
  private fullestPast(streams: EveryListener): readonly Listener[] {
    const holding: Array<{ listener: Listener; bytes: number }> = [];
    streams.forEach((group) =>
      group.forEachListener((listener) => {
        const bytes = listener.socket.bufferedAmount();
        if (bytes > 0) holding.push({ listener, bytes });
      }),
    );
    holding.sort((a, b) => b.bytes - a.bytes);
    let total = holding.reduce((sum, held) => sum + held.bytes, 0);
    const drop: Listener[] = [];
    for (const { listener, bytes } of holding) {
      if (total <= this.budgetBytes) break;
      drop.push(listener);
      total -= bytes;
    }
    return drop;
  }
}
