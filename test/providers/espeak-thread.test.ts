/**
 * The embedded engine in its worker thread: the event loop stays free while it speaks, the audio is the
 * inline engine's byte for byte, a cancel stops at once (the thread at the engine's next chunk) and its sentences never reach the thread, a thread
 * that cannot start (or dies) leaves synthesis inline with a warning, and closed relays leave no thread.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { createLogger, type Logger } from '../../worker/ops/logger.ts';
import { loadEspeakEngine } from '../../worker/providers/espeak/engine.ts';
import { EspeakProvider } from '../../worker/providers/espeak/provider.ts';
import { WARM_UP_PIECES, WARM_UP_ROUNDS, WARM_UP_TEXT } from '../../worker/providers/espeak/warm-up-script.ts';
import type { ContextOptions, ProviderEvent } from '../../worker/providers/provider.ts';
import { startNodeWorker } from '../../worker/runtime/node-worker.ts';
import type { StartWorker, WorkerPort } from '../../worker/runtime/contract.ts';
import { within } from '../support/relay.ts';
import { type RelayProcess, RUNTIMES, startRelayProcess } from '../runtimes/relay-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENGINE_FORMAT: AudioFormat = { encoding: 'pcm_f32le', sampleRate: 22_050 };
/** Twelve sentences, ~3.5 s of speech each: about 40 s, pushed a sentence at a time as a stream does. */
const SENTENCES = Array.from({ length: 12 }, (_, i) => `This is sentence ${i + 1} of a long announcement that goes on for a while. `);
/**
 * How busy the event loop is while 40 s of speech is synthesized: inline, the engine holds it nearly all the
 * time (one sentence blocks it 170-300 ms here, 450-820 ms under load); in the thread the loop only passes
 * chunks on. Its busy share (event-loop utilization) is compared with the inline engine's in the same
 * process, so a loaded machine slows both sides alike. The longest gap between 10 ms ticks is logged only:
 * under CPU burners the scheduler alone makes gaps of 100 ms and more.
 */
const MAX_SHARE_OF_INLINE = 0.5;

const providers: EspeakProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

async function openProvider(startWorker?: StartWorker, logger?: Logger): Promise<EspeakProvider> {
  const provider = new EspeakProvider({ startWorker, logger });
  providers.push(provider);
  await provider.ready();
  return provider;
}

interface Spoken {
  audio: Buffer;
  words: { word: string; start: number; end: number }[];
  events: ProviderEvent['type'][];
}

/** Speaks `sentences` in one context (a push each, then end) and collects everything it yields. */
async function speak(provider: EspeakProvider, sentences: string[], options: Partial<ContextOptions> = {}): Promise<Spoken> {
  const context = provider.openContext({ format: ENGINE_FORMAT, timestamps: true, buffering: 'relay', ...options });
  for (const sentence of sentences) context.push(sentence);
  context.end();
  const audio: Uint8Array[] = [];
  const spoken: Spoken = { audio: Buffer.alloc(0), words: [], events: [] };
  for await (const event of context.events) {
    spoken.events.push(event.type);
    if (event.type === 'audio') audio.push(event.data);
    if (event.type === 'timestamps') spoken.words.push(...event.words);
  }
  spoken.audio = Buffer.concat(audio);
  return spoken;
}

/** Until `stop`: the event loop's busy share, and the longest time between two ticks of a 10 ms interval. */
function watchEventLoop(): { stop(): { busy: number; gap: number } } {
  const utilization = performance.eventLoopUtilization();
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return { busy: performance.eventLoopUtilization(utilization).utilization, gap: longest };
    },
  };
}

/**
 * A real thread whose requests are recorded (but the provider's warm-up at start and in the background); with `crashAt`, it is
 * reported dead while speaking that request.
 */
function observedWorker(options: { crashAt?: number } = {}) {
  const requests: string[] = [];
  /** Samples the thread made of each request it answered `spoken`, by text. */
  const spoken = new Map<string, number>();
  const texts = new Map<number, string>();
  const startWorker: StartWorker = (script) => {
    const port = startNodeWorker(script);
    let reportError: (error: Error) => void = () => {};
    return {
      postMessage(message, transfer) {
        const { id, text } = message as { id: number; text: string };
        texts.set(id, text);
        port.postMessage(message, transfer);
        if ((text === WARM_UP_TEXT && requests.length === 0) || WARM_UP_PIECES.includes(text)) return;
        requests.push(text);
        if (requests.length === options.crashAt) queueMicrotask(() => reportError(new Error('the thread crashed')));
      },
      onMessage: (handler) =>
        port.onMessage((message) => {
          const reply = message as { type: string; id: number; sampleCount: number };
          if (reply.type === 'spoken') spoken.set(texts.get(reply.id)!, reply.sampleCount);
          handler(message);
        }),
      onError(handler) {
        reportError = handler;
        port.onError(handler);
      },
      terminate: () => port.terminate(),
    } satisfies WorkerPort;
  };
  return { startWorker, requests, spoken };
}

/** Polls `read` every 5 ms until it gives a value. */
async function until<T>(read: () => T | undefined): Promise<T> {
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function logSink(): { logger: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  return { logger: createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }) }), lines };
}

describe('the espeak-ng worker thread', () => {
  it('keeps the event loop free while 40 s of speech is synthesized (busy under half the inline engine’s share)', async () => {
    const threaded = await openProvider(startNodeWorker);
    const inline = await openProvider();
    // Both engines warm, as in a running relay: the first synthesis of a process is slower.
    await speak(threaded, SENTENCES.slice(0, 1));
    await speak(inline, SENTENCES.slice(0, 1));

    let watch = watchEventLoop();
    const started = performance.now();
    const { audio } = await speak(threaded, SENTENCES);
    const threadMs = performance.now() - started;
    const thread = watch.stop();

    watch = watchEventLoop();
    await speak(inline, SENTENCES);
    const inlineLoop = watch.stop();

    const seconds = audio.byteLength / 4 / ENGINE_FORMAT.sampleRate;
    const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
    console.log(
      `${seconds.toFixed(1)} s of speech in ${threadMs.toFixed(0)} ms: event loop busy ${pct(thread.busy)} in the thread, ${pct(inlineLoop.busy)} inline; ` +
        `longest gap ${thread.gap.toFixed(1)} ms in the thread, ${inlineLoop.gap.toFixed(1)} ms inline`,
    );
    expect(seconds).toBeGreaterThan(35);
    expect(thread.busy).toBeLessThan(inlineLoop.busy * MAX_SHARE_OF_INLINE);
  }, 60_000);

  it('produces the inline engine’s audio and word times byte for byte, in the engine format and converted', async () => {
    // espeak-ng's output depends on what the engine spoke before (its pitch flutter runs on across calls):
    // both sides start from a fresh engine and speak the same texts in the same order. A fresh module
    // graph gives this test an inline engine of its own; a new provider starts a new thread.
    vi.resetModules();
    const { EspeakProvider: FreshProvider } = await import('../../worker/providers/espeak/provider.ts');
    const inline = new FreshProvider();
    providers.push(inline);
    await inline.ready();
    // Without the background warm-up, which would give the thread's engine a history the inline one has not.
    const threaded = new EspeakProvider({ startWorker: startNodeWorker, backgroundWarmUp: false });
    providers.push(threaded);
    await threaded.ready();
    const text = SENTENCES.slice(0, 3);
    for (const format of [ENGINE_FORMAT, { encoding: 'pcm_s16le', sampleRate: 16_000 }, { encoding: 'pcm_mulaw', sampleRate: 8000 }] satisfies AudioFormat[]) {
      const expected = await speak(inline, text, { format });
      const actual = await speak(threaded, text, { format });
      expect(actual.audio.byteLength).toBeGreaterThan(10_000);
      expect(actual.audio.equals(expected.audio)).toBe(true);
      expect(actual.words).toEqual(expected.words);
      expect(actual.events.at(-1)).toBe('done');
    }
  }, 60_000);

  it('sends a sentence’s words as the engine settles them, before the audio they describe has all come', async () => {
    const provider = await openProvider(startNodeWorker);
    const sentence = 'The quick brown fox jumps over the lazy dog, and every word of it is timed as it is made.';
    const spoken = await speak(provider, [sentence]);
    const firstWords = spoken.events.indexOf('timestamps');
    // Words came before the last audio chunk, and together they are every word once, rising.
    expect(firstWords).toBeGreaterThan(-1);
    expect(firstWords).toBeLessThan(spoken.events.lastIndexOf('audio'));
    expect(spoken.events.filter((e) => e === 'timestamps').length).toBeGreaterThan(1);
    // The same words as the whole sentence synthesized in one go, each once, in order, their times rising.
    const whole = (await loadEspeakEngine()).synthesize(sentence).words;
    expect(spoken.words.map((w) => w.word)).toEqual(whole.map((w) => w.word));
    spoken.words.forEach((w, i) => {
      expect(w.end).toBeGreaterThanOrEqual(w.start);
      if (i > 0) expect(w.start).toBeGreaterThanOrEqual(spoken.words[i - 1]!.end);
    });
  });

  it('serves several contexts at once through the one thread, each with its own words and audio', async () => {
    const threaded = await openProvider(startNodeWorker);
    const texts = [SENTENCES.slice(0, 3), ['A second voice speaks at the same time. ', 'It has two sentences. '], ['And a third, short one. ']];
    const voice = (i: number) => (i === 1 ? 'en-gb' : 'en-us');
    const together = await Promise.all(texts.map((text, i) => speak(threaded, text, { voice: voice(i) })));
    for (const [i, text] of texts.entries()) {
      const alone = await speak(threaded, text, { voice: voice(i) });
      expect(together[i]!.events.at(-1)).toBe('done');
      expect(together[i]!.words.map((w) => w.word)).toEqual(alone.words.map((w) => w.word));
      // Not byte for byte (see above: the engine's history differs), but no chunk went to another context.
      expect(together[i]!.audio.byteLength / alone.audio.byteLength).toBeCloseTo(1, 1);
    }
  }, 60_000);

  it('stops a cancelled context’s audio at once, and its sentences not yet started never reach the thread', async () => {
    const worker = observedWorker();
    const provider = await openProvider(worker.startWorker);
    const context = provider.openContext({ format: ENGINE_FORMAT, buffering: 'relay' });
    for (const sentence of SENTENCES) context.push(sentence);
    context.end();
    const events = context.events[Symbol.asyncIterator]();
    const first = await within(events.next(), 10_000, 'first audio');
    expect(first.value?.type).toBe('audio');
    context.cancel();
    // Nothing more, not even the rest of the sentence the thread was speaking.
    expect(await within(events.next(), 5000, 'end of events')).toEqual({ done: true, value: undefined });
    // The thread stopped that sentence at a chunk soon after the cancel, not at its end (~3.5 s of speech).
    const wholeSentence = (await loadEspeakEngine()).synthesize(SENTENCES[0]!).samples.length;
    const made = await within(until(() => worker.spoken.get(SENTENCES[0]!.trim())), 5000, 'the stopped sentence');
    expect(made).toBeLessThan(wholeSentence / 2);

    // The next context is spoken next: the thread finished at most the sentence it had, then moved on.
    const next = await within(speak(provider, ['Next, please. ']), 10_000, 'the next context');
    expect(next.events.at(-1)).toBe('done');
    expect(next.audio.byteLength).toBeGreaterThan(10_000);
    // The sentence it was speaking, and perhaps the next if the first had just ended; then the next context's.
    expect(worker.requests.length).toBeLessThanOrEqual(3);
    expect(worker.requests.at(-1)).toBe('Next, please.');
  }, 30_000);

  it('warms the engine in the thread after start, and the first context stops the warm-up and is spoken next', async () => {
    const idle = logSink();
    const warming = await openProvider(startNodeWorker, idle.logger);
    await within(warming.warmed, 120_000, 'the background warm-up');
    const ended = (lines: typeof idle.lines) => lines.find((line) => line.msg === 'espeak-ng warm-up ended') as unknown as { pieces: number; stopped_by_work: boolean };
    expect(ended(idle.lines)).toMatchObject({ pieces: WARM_UP_ROUNDS * WARM_UP_PIECES.length, stopped_by_work: false });

    const busy = logSink();
    const worker = observedWorker();
    const provider = await openProvider(worker.startWorker, busy.logger);
    const spoken = await within(speak(provider, ['Right away, please. ']), 30_000, 'a context opened during the warm-up');
    expect(spoken.events.at(-1)).toBe('done');
    await within(provider.warmed, 30_000, 'the stopped warm-up');
    expect(ended(busy.lines).stopped_by_work).toBe(true);
    expect(ended(busy.lines).pieces).toBeLessThan(WARM_UP_ROUNDS * WARM_UP_PIECES.length);
    expect(worker.requests).toEqual(['Right away, please.']);
  }, 180_000);

  it('synthesizes inline with one warning when the runtime has no worker threads, or the thread cannot start', async () => {
    const unable: StartWorker = () => {
      throw new Error('no threads here');
    };
    const broken: StartWorker = (script) => startNodeWorker(new URL('./no-such-thread.ts', script));
    for (const startWorker of [undefined, unable, broken]) {
      const { logger, lines } = logSink();
      const provider = await within(openProvider(startWorker, logger), 20_000, 'provider start');
      const spoken = await speak(provider, ['Still speaking. ', 'On the event loop. ']);
      expect(spoken.events.at(-1)).toBe('done');
      expect(spoken.audio.byteLength).toBeGreaterThan(10_000);
      const warnings = lines.filter((line) => line.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/^espeak-ng synthesizes on the event loop/);
    }
  }, 60_000);

  it('fails the sentence a dying thread had, and speaks later contexts inline', async () => {
    const worker = observedWorker({ crashAt: 2 });
    const { logger, lines } = logSink();
    const provider = await openProvider(worker.startWorker, logger);
    const spoken = await speak(provider, SENTENCES.slice(0, 4));
    // The first sentence was heard; the second was lost with the thread, and the context says so.
    expect(spoken.events[0]).toBe('audio');
    expect(spoken.events.at(-1)).toBe('error');
    expect(lines.filter((line) => line.level === 'error').map((line) => line.msg)).toEqual(['the espeak-ng thread failed: synthesizing on the event loop from now on']);

    const after = await speak(provider, ['Spoken inline now. ']);
    expect(after.events.at(-1)).toBe('done');
    expect(after.audio.byteLength).toBeGreaterThan(10_000);
    expect(worker.requests).toHaveLength(2);
  }, 30_000);

  it('lets a process that starts and closes several relays exit by itself, with no thread left behind', async () => {
    // Its own process: a thread left running would keep it alive, which vitest's worker would hide.
    const script = `
      import { readFileSync } from 'node:fs';
      const { startNodeRelay } = await import('./worker/runtime/node.ts');
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? -1);
      const counts = [];
      // A thread that ends is joined a moment after close() returns: wait for the count to settle (bounded
      // only against a hang: a loaded machine may take seconds to join it).
      const settled = async (ceiling) => {
        for (const until = Date.now() + 30000; threads() > ceiling && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
        return threads();
      };
      for (let i = 0; i < 4; i++) {
        const relay = await startNodeRelay({ port: 0, host: '127.0.0.1', quiet: true, env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: 'thread-test-key-0123456789', LOG_LEVEL: 'warn' } });
        const response = await fetch(relay.url + '/v1/streams/s/speak?wait=true', { method: 'POST', body: 'Hello from relay ' + i + '.', headers: { authorization: 'Bearer thread-test-key-0123456789' } });
        const result = await response.json();
        if (result.reason !== 'done') throw new Error('not spoken: ' + JSON.stringify(result));
        await relay.close();
        counts.push(await settled(i === 0 ? Infinity : Math.max(counts[0], counts[1] ?? 0)));
      }
      console.log(JSON.stringify({ counts }));
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    try {
      const [code] = await within(once(child, 'exit'), 150_000, 'the process to exit by itself');
      expect(stderr).toBe('');
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const { counts } = JSON.parse(stdout) as { counts: number[] };
    // After the first relays the thread pools are up (a pool may start one more thread lazily, once); a thread
    // per relay left behind would add one with each of the last two.
    if (counts[0]! > 0) expect(counts.at(-1)).toBeLessThanOrEqual(Math.max(counts[0]!, counts[1]!) + 1);
  }, 180_000);
});

describe.each(RUNTIMES)('a relay process under %s', (runtime) => {
  const key = 'thread-runtime-key-0123456789';
  let relay: RelayProcess | undefined;
  afterEach(async () => relay?.kill());

  it('loads espeak-ng in its worker thread, answers requests while it synthesizes, and exits 0 on SIGTERM', async () => {
    relay = await startRelayProcess(runtime, { RELAY_ADMIN_KEY: key, LOG_LEVEL: 'debug' });
    expect(relay.logs.some((line) => line.msg === 'espeak-ng loaded in its worker thread')).toBe(true);
    expect(relay.logs.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);

    const headers = { authorization: `Bearer ${key}`, 'content-type': 'text/plain' };
    const accepted = await fetch(new URL('/v1/streams/long/speak', relay.url), { method: 'POST', body: SENTENCES.join(''), headers });
    expect(accepted.status).toBe(202);
    // The 40 s text is synthesized in the next second or two (playback is paced, synthesis is not).
    let slowest = 0;
    for (const until = performance.now() + 2000; performance.now() < until; ) {
      const started = performance.now();
      expect((await fetch(new URL('/healthz', relay.url))).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(`${runtime}: slowest /healthz while synthesizing ${slowest.toFixed(1)} ms`);
    await fetch(new URL('/v1/streams/long/cancel', relay.url), { method: 'POST', headers });

    relay.signal('SIGTERM');
    expect(await within(relay.exited, 30_000, 'exit after SIGTERM')).toMatchObject({ code: 0 });
  }, 60_000);
});
