/** The Cartesia emulator in a process of its own, so its synthesis never shares a CPU budget with what is measured. */
import { startCartesiaEmulator } from '../support/cartesia-emulator.ts';
import { serveControl } from './control.ts';

// espeak-ng at its default rate (175 words a minute) speaks about this many characters of this text a second.
const CHARS_PER_SECOND = 12;
// Cartesia-sized chunks, sent BENCH_CHUNK_INTERVAL_MS apart (0: back to back once synthesized, so a long
// utterance reaches the relay in a second or two and measurement windows can open after it has all arrived).
const CHUNK_MS = 50;

const emulator = await startCartesiaEmulator({
  apiKeys: [process.env.BENCH_EMULATOR_API_KEY ?? ''],
  firstChunkDelayMs: Number(process.env.BENCH_SYNTHESIS_DELAY_MS ?? 20),
  chunkMs: CHUNK_MS,
  chunkIntervalMs: Number(process.env.BENCH_CHUNK_INTERVAL_MS ?? 2),
  warmUp: true,
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
