/**
 * An utterance onto its provider context: the context's options, the utterance's text (aggregated into
 * sentences unless the request said not to) and the watchdog for a provider gone silent.
 */
import type { AudioFormat } from '../../shared/audio-format.ts';
import { RelayError } from '../../shared/errors.ts';
import type { ContextOptions, TTSContext } from '../providers/provider.ts';
import { SentenceAggregator } from './sentence-aggregator.ts';
import type { Utterance, UtteranceOptions } from './utterance.ts';

/**
 * Moves the utterance's input into `context` until the input ends or the utterance does. With relay
 * buffering, text waiting `idleFlushMs` without a sentence boundary is pushed anyway.
 */
export async function feedText(utterance: Utterance, context: TTSContext, idleFlushMs: number): Promise<void> {
  const relayBuffering = (utterance.options.buffering ?? 'relay') === 'relay';
  const aggregator = new SentenceAggregator();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const pushPiece = (piece: string) => {
    if (piece !== '' && !utterance.ended) context.push(`${piece} `);
  };
  const flushPending = () => pushPiece(aggregator.flush());

  try {
    // What arrived in one turn goes on in one: a whole text and its end reach the context together.
    while (await utterance.input.arrival()) {
      clearTimeout(idleTimer);
      for (let input = utterance.input.take(); input; input = utterance.input.take()) {
        if (utterance.ended) return;
        if (input.type === 'text') {
          if (!relayBuffering) context.push(input.text);
          else for (const piece of aggregator.push(input.text)) pushPiece(piece);
        } else if (input.type === 'flush') {
          flushPending();
          context.flush();
        } else {
          flushPending();
          context.end();
          return;
        }
      }
      // Armed once what came in this turn is in: a whole text and its end never set it.
      if (aggregator.pending.trim() !== '') idleTimer = setTimeout(flushPending, idleFlushMs);
    }
  } finally {
    clearTimeout(idleTimer);
  }
}

/** The provider context an utterance asks for, in the stream's format; word timestamps always (captions, heard). */
export function contextOptions(options: UtteranceOptions, format: AudioFormat): ContextOptions {
  return {
    format,
    voice: options.voice,
    language: options.language,
    ...(options.model ? { model: options.model } : {}),
    ...(options.phonemeTimestamps ? { phonemeTimestamps: true } : {}),
    timestamps: true,
    buffering: options.buffering ?? 'relay',
    ...(options.generation ? { generation: options.generation } : {}),
  };
}

/**
 * Fails the utterance with `upstream_timeout` when, its input complete, the provider sends nothing for
 * `timeoutMs`. `heard` marks each event; `stop` ends the watch.
 */
export function watchProvider(utterance: Utterance, timeoutMs: number, now: () => number, timedOut: (error: RelayError) => void): { heard(): void; stop(): void } {
  let lastEvent = now();
  const timer = setInterval(() => {
    const silentFor = now() - lastEvent;
    if (utterance.inputComplete && silentFor > timeoutMs) {
      timedOut(new RelayError('upstream_timeout', `The provider sent nothing for ${Math.round(silentFor)} ms.`));
    }
  }, Math.min(1000, timeoutMs));
  return {
    heard: () => {
      lastEvent = now();
    },
    stop: () => clearInterval(timer),
  };
}
