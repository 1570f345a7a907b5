/** The Cartesia emulator in a process of its own, so its synthesis never shares a CPU budget with what is measured. */
import { startCartesiaEmulator } from '../support/cartesia-emulator.ts';
import { serveControl } from './control.ts';

// espeak-ng's default rate (175 words a minute) comes to about this many characters of English a second.
const CHARS_PER_SECOND = 15;
// Cartesia-sized chunks, sent back to back once synthesized: a long utterance reaches the relay in
// seconds, so measurement windows can open after it has all arrived.
const CHUNK_MS = 50;

const emulator = await startCartesiaEmulator({
  apiKeys: [process.env.BENCH_EMULATOR_API_KEY ?? ''],
  firstChunkDelayMs: Number(process.env.BENCH_SYNTHESIS_DELAY_MS ?? 20),
  chunkMs: CHUNK_MS,
  chunkIntervalMs: 0,
});

serveControl({ url: emulator.url, wssUrl: emulator.wssUrl, charsPerSecond: CHARS_PER_SECOND, chunkMs: CHUNK_MS }, {
  stats: () => ({ contexts: emulator.stats.contexts, open: emulator.stats.open, sent: emulator.stats.sent }),
  /** The emulator records every request; a long run would hold them all. */
  forget: () => {
    emulator.stats.requests.length = 0;
    emulator.stats.upgrades.length = 0;
    return null;
  },
});
