/** Node: V8's old-generation growth pinned, so a busy machine cannot talk the relay into a mark-compact every second. */
import { setFlagsFromString } from 'node:v8';

/**
 * After each mark-compact V8 sets the next old-generation limit at the live size times a factor it derives from GC
 * and allocation speeds measured in wall time. On a machine whose cores are shared, those speeds read slow and the
 * factor falls to ~2: with ~20 MB live, less room under the limit than the young generation streaming grows to
 * (16 MiB a semi-space), so marking starts again right away and the relay runs a mark-compact every 1–2 s for the rest
 * of its life (2 of 11 quick latency runs at load 1–27; p99 added at 100 streams +147 and +245 ms). A factor of 4 (300 %),
 * what V8 picks on a quiet machine, leaves ~60 MB of room at that live size.
 */
export const HEAP_GROWING_PERCENT = 300;

/** Read at every mark-compact, so setting it once the process runs takes effect from the next one. */
export function pinHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
