/**
 * What the Bun relay's process starts with, read by Bun before any code runs: `npm start` and the Dockerfile set it
 * (they cannot import it), and the bench's Bun relays get it from here. BUN_GC_TIMER_DISABLE turns off Bun's own
 * collection timer, which collects once a second for as long as the heap's block count keeps moving: a relay playing
 * audio to 100 listeners was collected every second while a bare `server.publish` server was collected 0–6 times in
 * 20 s. JSC still collects as the relay allocates, as V8 does on Node.
 */
export const BUN_RELAY_ENV: Readonly<Record<string, string>> = { BUN_GC_TIMER_DISABLE: '1' };
