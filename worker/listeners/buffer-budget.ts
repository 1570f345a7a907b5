/**
 * One budget for the unsent audio of every listener on this instance. The bound per listener
 * (RELAY_LISTENER_MAX_BUFFERED_SECONDS) alone lets memory grow with the number of listeners: 1,000 listeners of a
 * stream that stop reading may each hold 30 s of 48 kHz f32 (5.8 MB) before they are dropped, 5.8 GB a stream, and a
 * few such streams make a relay of tens of GB. Past the budget the listeners holding the most go first.
 */
import type { Listener } from './listener.ts';

/** The listeners to drop so that what the rest hold fits in `budgetBytes`, fullest first; none while it fits. */
export function overBudget(listeners: Iterable<Listener>, budgetBytes: number): Listener[] {
  let total = 0;
  const holding: Array<{ listener: Listener; bytes: number }> = [];
  for (const listener of listeners) {
    const bytes = listener.socket.bufferedAmount();
    if (bytes <= 0) continue;
    total += bytes;
    holding.push({ listener, bytes });
  }
  if (total <= budgetBytes) return [];
  holding.sort((a, b) => b.bytes - a.bytes);
  const drop: Listener[] = [];
  for (const { listener, bytes } of holding) {
    if (total <= budgetBytes) break;
    drop.push(listener);
    total -= bytes;
  }
  return drop;
}
