/** An utterance's text into its provider context, aggregated into sentences unless the request said not to. */
import type { TTSContext } from '../providers/provider.ts';
import { SentenceAggregator } from './sentence-aggregator.ts';
import type { Utterance } from './utterance.ts';

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
    for await (const input of utterance.input) {
      if (utterance.ended) return;
      clearTimeout(idleTimer);
      if (input.type === 'text') {
        if (!relayBuffering) {
          context.push(input.text);
          continue;
        }
        for (const piece of aggregator.push(input.text)) pushPiece(piece);
        if (aggregator.pending.trim() !== '') idleTimer = setTimeout(flushPending, idleFlushMs);
      } else if (input.type === 'flush') {
        flushPending();
        context.flush();
      } else {
        flushPending();
        context.end();
        return;
      }
    }
  } finally {
    clearTimeout(idleTimer);
  }
}
