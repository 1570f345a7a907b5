/** Where the relay under test gets its audio: the Cartesia emulator (a provider with a fixed synthesis delay) or espeak. */
import { fileURLToPath } from 'node:url';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { type BenchChild, spawnChild } from './child-process.ts';
import { sleep } from './clock.ts';

export interface AudioSource {
  readonly name: 'cartesia-emulator' | 'espeak';
  /** Environment that points a relay child at this source. */
  readonly relayEnv: Record<string, string>;
  /** The format the relay publishes (the provider's preferred format). */
  readonly format: AudioFormat;
  /** The emulator's endpoint, for clients that read the provider directly. */
  readonly providerUrl?: string;
  readonly providerWssUrl?: string;
  readonly apiKey?: string;
  /** Text that makes at least `seconds` of audio. */
  text(seconds: number): string;
  /** Seconds of audio the provider has produced so far (NaN when it cannot tell). */
  produced(): Promise<number>;
  /**
   * Resolves once the provider has produced more than `since` seconds and then gone quiet (everything asked
   * of it has reached the relay), with the seconds produced since `since`. Windows that should not include
   * the relay ingesting a whole utterance at once open after this. Gives up waiting after `maxWaitMs`: a
   * relay too busy to read its provider's socket takes the audio in only as fast as it plays it out.
   */
  quiet(since: number, maxWaitMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const SENTENCES = [
  'The relay takes text from anything that speaks HTTP and turns it into speech.',
  'Every listener of a stream hears the same words at the same moment.',
  'Audio is converted once for each format and the same bytes go to every listener.',
  'A slow listener is dropped before it can hold the others back.',
  'Nothing here waits for the whole text before the first words are spoken.',
];

/** Sentences enough for `seconds` of speech at `charsPerSecond`. */
export function sentencesFor(seconds: number, charsPerSecond: number): string {
  const out: string[] = [];
  let chars = 0;
  for (let i = 0; chars < seconds * charsPerSecond; i++) {
    const sentence = SENTENCES[i % SENTENCES.length]!;
    out.push(sentence);
    chars += sentence.length + 1;
  }
  return out.join(' ');
}

/** The embedded engine: speaks about 16 characters a second at 22,050 Hz, synthesized inside the relay. */
export function espeakSource(): AudioSource {
  return {
    name: 'espeak',
    relayEnv: { TTS_PROVIDER: 'espeak' },
    format: { encoding: 'pcm_f32le', sampleRate: 22050 },
    text: (seconds) => sentencesFor(seconds, 16),
    // espeak synthesizes inside the relay, which this cannot see: a fixed pause covers a long text.
    produced: async () => Number.NaN,
    quiet: async () => {
      await sleep(3000);
      return Number.NaN;
    },
    stop: async () => {},
  };
}

export const EMULATOR_API_KEY = 'bench-cartesia-key-0123456789';
const CERT_FILE = fileURLToPath(new URL('../support/certs/cert.pem', import.meta.url));

export interface EmulatorInfo {
  url: string;
  wssUrl: string;
  chunkMs: number;
  /** Characters of transcript per second of generated audio. */
  charsPerSecond: number;
}

/**
 * The Cartesia emulator in a process of its own, with a fixed synthesis delay, serving 44.1 kHz f32 by default.
 * `chunkIntervalMs` paces its chunks: 2 (25× real time, like a fast model streaming) or 0 (all at once).
 */
export async function emulatorSource(options: { synthesisDelayMs: number; chunkIntervalMs: number; format?: AudioFormat }): Promise<AudioSource & { child: BenchChild<EmulatorInfo> }> {
  const format = options.format ?? { encoding: 'pcm_f32le', sampleRate: 44100 };
  const child = await spawnChild<EmulatorInfo>('test/bench/emulator-child.ts', {
    env: {
      BENCH_SYNTHESIS_DELAY_MS: String(options.synthesisDelayMs),
      BENCH_CHUNK_INTERVAL_MS: String(options.chunkIntervalMs),
      BENCH_EMULATOR_API_KEY: EMULATOR_API_KEY,
    },
  });
  const produced = async () => {
    const { sent } = await child.call<{ sent: Record<string, number> }>('stats');
    return ((sent.chunk ?? 0) * child.info.chunkMs) / 1000;
  };
  return {
    name: 'cartesia-emulator',
    child,
    relayEnv: {
      TTS_PROVIDER: 'cartesia',
      CARTESIA_API_KEY: EMULATOR_API_KEY,
      CARTESIA_BASE_URL: child.info.url,
      CARTESIA_CA_FILE: CERT_FILE,
      CARTESIA_ENCODING: format.encoding,
      CARTESIA_SAMPLE_RATE: String(format.sampleRate),
      NODE_EXTRA_CA_CERTS: CERT_FILE,
    },
    format,
    providerUrl: child.info.url,
    providerWssUrl: child.info.wssUrl,
    apiKey: EMULATOR_API_KEY,
    text: (seconds) => sentencesFor(seconds, child.info.charsPerSecond),
    produced,
    async quiet(since, maxWaitMs = 60_000) {
      const deadline = performance.now() + maxWaitMs;
      let last = await produced();
      // Quiet: something arrived after `since`, then nothing for 300 ms.
      while (performance.now() < deadline) {
        await sleep(300);
        const now = await produced();
        if (now === last && now > since) break;
        last = now;
      }
      return last - since;
    },
    stop: () => child.stop(),
  };
}
