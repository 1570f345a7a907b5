/** Debian's Chromium for the browser tests, and a recorder of what the player page's client saw and rendered. */
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Hello, UtteranceEnd, UtteranceStart, WordTimestamp } from '../../shared/protocol.ts';

/** The system's browser: nothing is downloaded. CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--mute-audio'] });
}

export interface Played {
  utterance: number;
  seconds: number;
  /** Audio skipped unheard because it came after its presentation time. */
  skippedSeconds: number;
  complete: boolean;
}

export interface WordTiming {
  index: number;
  /** When its first and last samples came out (rendered at that context time, heard once the output clock reaches it). */
  due: number;
  over: number;
  /** When the page learnt its times (the timestamps message). */
  known: number;
  /** The output clock when the page set aria-current on it; null if it never did. */
  marked: number | null;
  /** Whether any of it was rendered: a late stretch skipped ahead over it whole leaves nothing to hear or mark. */
  rendered: boolean;
}

export interface PlayerRecord {
  hello(): Promise<Hello>;
  /** The first utterance_start after `after` (an utterance number). */
  nextStart(after?: number): Promise<number>;
  end(utterance: number): Promise<UtteranceEnd>;
  played(utterance: number): Promise<Played>;
  words(utterance: number): Promise<WordTimestamp[]>;
  firstWord(utterance: number): Promise<void>;
  underruns(): Promise<number>;
  /** The relay's presentation times for the utterance: more than one means an explicit gap (audio made late). */
  timings(utterance: number): Promise<Array<{ sample: number; at: number }>>;
  /**
   * For each worklet position report of the utterance while playing: when that sample was heard (the output clock
   * read at the report, mapped to this host's epoch ms, which the relay clock also counts) minus when the relay's
   * presentation times put it, in ms (positive: late).
   */
  schedulingErrors(utterance: number, wireRate: number): Promise<number[]>;
  /** The page's clock estimate, stats of its syncing, and its latest output timestamp. */
  sync(): Promise<{ clock: { offsetMs: number; uncertaintyMs: number } | null; late: number; skippedSeconds: number }>;
  /** Each word of the utterance on the output clock (seconds of context time), from the worklet's position reports. */
  wordTimings(utterance: number, wireRate: number): Promise<WordTiming[]>;
}

interface PageRecord {
  hello: Hello | null;
  starts: UtteranceStart[];
  ends: UtteranceEnd[];
  played: Played[];
  words: Record<number, WordTimestamp[]>;
  positions: Array<{ time: number; utterance: number | null; sample: number | null; state: string; heardAt: number }>;
  timings: Array<{ utterance: number; sample: number; at: number }>;
  highlights: Array<{ utterance: number; index: number; heard: number }>;
  /** When each word's times arrived, on the output clock. */
  known: Record<number, number[]>;
  underruns: number;
}

/** Starts recording in the page; call it right after Play was pressed (the page's client is `window.relayPlayer`). */
export async function recordPlayer(page: Page): Promise<PlayerRecord> {
  await page.waitForFunction(() => 'relayPlayer' in window);
  await page.evaluate(() => {
    const player = (window as any).relayPlayer;
    const record: PageRecord = { hello: player.hello, starts: [], ends: [], played: [], words: {}, positions: [], highlights: [], known: {}, timings: [], underruns: 0 };
    (window as any).record = record;
    const on = (type: string, handle: (detail: any) => void) => player.addEventListener(type, (event: CustomEvent) => handle(event.detail));
    on('hello', (hello) => (record.hello = hello));
    on('utterancestart', (message) => record.starts.push(message));
    on('utteranceend', (message) => record.ends.push(message));
    on('played', (played) => record.played.push(played));
    on('timestamps', (message) => {
      (record.words[message.utterance] ??= []).push(...message.words);
      (record.known[message.utterance] ??= []).push(...message.words.map(() => player.heardTime()));
    });
    on('position', (p) => {
      const stamp = player.context.getOutputTimestamp();
      const heardAt = performance.timeOrigin + stamp.performanceTime + (p.time - stamp.contextTime) * 1000;
      record.positions.push({ time: p.time, utterance: p.utterance, sample: p.sample, state: p.state, heardAt });
    });
    on('timing', (t) => record.timings.push({ utterance: t.utterance, sample: t.sample, at: t.at }));
    on('underrun', () => record.underruns++);
    new MutationObserver((mutations) => {
      const heard = player.heardTime();
      for (const mutation of mutations) {
        const span = mutation.target as HTMLElement;
        if (span.getAttribute('aria-current') !== 'true' || !span.parentElement) continue;
        const index = [...span.parentElement.querySelectorAll('span')].indexOf(span as HTMLSpanElement);
        record.highlights.push({ utterance: Number(span.parentElement.dataset.utterance), index, heard });
      }
    }).observe(document.getElementById('captions')!, { subtree: true, attributes: true, attributeFilter: ['aria-current'] });
  });

  // Polled from here: waitForFunction evaluates a string, which the page's CSP (rightly) refuses.
  const waitFor = async <T, A>(read: (arg: A) => T | undefined | null, arg: A, timeout = 30_000): Promise<T> => {
    const deadline = performance.now() + timeout;
    for (;;) {
      const value = await page.evaluate(read as (arg: unknown) => T | undefined | null, arg as unknown);
      if (value !== undefined && value !== null) return value as T;
      if (performance.now() > deadline) throw new Error(`the page did not record it within ${timeout} ms: ${read.toString()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const snapshot = () => page.evaluate(() => (window as any).record as PageRecord);

  return {
    hello: () => waitFor(() => ((window as any).record as PageRecord).hello, null),
    nextStart: (after = -1) => waitFor((a) => ((window as any).record as PageRecord).starts.find((s) => s.utterance > a)?.utterance, after),
    end: (utterance) => waitFor((u) => ((window as any).record as PageRecord).ends.find((e) => e.utterance === u), utterance),
    played: (utterance) => waitFor((u) => ((window as any).record as PageRecord).played.find((p) => p.utterance === u), utterance),
    words: async (utterance) => (await snapshot()).words[utterance] ?? [],
    firstWord: async (utterance) => void (await waitFor((u) => ((window as any).record as PageRecord).highlights.find((h) => h.utterance === u), utterance)),
    underruns: async () => (await snapshot()).underruns,
    timings: async (utterance) => (await snapshot()).timings.filter((t) => t.utterance === utterance),
    async schedulingErrors(utterance, wireRate) {
      const record = await snapshot();
      const timings = record.timings.filter((t) => t.utterance === utterance);
      return record.positions
        .filter((p) => p.utterance === utterance && p.state === 'playing' && p.sample !== null)
        .flatMap((p) => {
          const timing = timings.filter((t) => t.sample <= p.sample!).pop();
          return timing ? [p.heardAt - (timing.at + ((p.sample! - timing.sample) / wireRate) * 1000)] : [];
        });
    },
    sync: () => page.evaluate(() => (window as any).relayPlayer.sync),
    async wordTimings(utterance, wireRate) {
      const record = await snapshot();
      const words = record.words[utterance] ?? [];
      const positions = record.positions.filter((p) => p.utterance === utterance && p.state === 'playing' && p.sample !== null) as Array<{ time: number; sample: number }>;
      const highlights = record.highlights.filter((h) => h.utterance === utterance);
      return words.map((word, index) => ({
        index,
        due: renderTimeOf(positions, word.start * wireRate, wireRate),
        over: renderTimeOf(positions, word.end * wireRate, wireRate),
        known: record.known[utterance]?.[index] ?? NaN,
        marked: highlights.find((h) => h.index === index)?.heard ?? null,
        rendered: positions.some((p) => p.sample >= word.start * wireRate && p.sample < word.end * wireRate),
      }));
    },
  };
}

/**
 * When source sample `target` was rendered: counted back from the first position report at or past it, at the wire
 * rate (reports come every ~11 ms; interpolating between two reports would smear an explicit gap between them).
 */
function renderTimeOf(positions: Array<{ time: number; sample: number }>, target: number, wireRate: number): number {
  const after = positions.find((p) => p.sample >= target);
  return after ? after.time - (after.sample - target) / wireRate : NaN;
}
