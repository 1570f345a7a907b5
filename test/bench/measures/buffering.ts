/**
 * Time to first audio by buffering policy for an LLM-like token stream: the relay aggregating tokens into
 * sentences (and telling Cartesia max_buffer_delay_ms 0) against passing tokens through for the provider to
 * buffer (CARTESIA_MAX_BUFFER_DELAY_MS). Measured from the first token sent to the first audio at a listener.
 */
import { type Runtime, spawnChild } from '../child-process.ts';
import { freePort, within } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { ProbeListener } from '../probe-listener.ts';
import { row, type Row } from '../report.ts';
import { speak } from '../speak-client.ts';
import type { AudioSource } from '../sources.ts';
import { summarize, type Summary } from '../stats.ts';

export const LLM_REPLY =
  'Sure, here is the forecast for tomorrow. Expect light rain in the morning, clearing by noon, with a high of eighteen degrees. ' +
  'The evening stays dry and mild, so a light jacket will do.';
/** Tokens about as long as an LLM's (a word or a piece of one, with its leading space). */
export const LLM_TOKENS = LLM_REPLY.match(/\s?[^\s]{1,4}/g) ?? [LLM_REPLY];
/** 50 tokens a second, a typical streaming rate for a hosted model. */
export const TOKEN_GAP_MS = 20;
const UTTERANCE_TIMEOUT_MS = 20_000;

export interface BufferingResult {
  runtime: Runtime;
  provider: string;
  tokens: number;
  tokenGapMs: number;
  /** Milliseconds from the first token to the last token of the first sentence being sent. */
  firstSentenceSentMs: number;
  relayBuffering: Summary;
  providerBuffering: Summary;
}

export async function measureBuffering(ctx: BenchContext, runtime: Runtime, source: AudioSource): Promise<BufferingResult> {
  const runs = ctx.mode === 'smoke' ? 1 : 6;
  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  const target = { url: relay.info.url, key: ctx.adminKey };
  const samples: Record<'relay' | 'provider', number[]> = { relay: [], provider: [] };
  try {
    const stream = 'buffering';
    const listener = await ProbeListener.open(`${relay.info.url.replace(/^http/, 'ws')}/v1/streams/${stream}/listen`, {
      authorization: `Bearer ${ctx.adminKey}`,
    });
    let last = 0;
    try {
      // The first round warms both paths (JIT, TLS session, the provider's socket) and is not recorded.
      for (let run = 0; run <= runs; run++) {
        // Alternate which policy goes first, so neither always follows the other.
        const order: Array<'relay' | 'provider'> = run % 2 === 0 ? ['relay', 'provider'] : ['provider', 'relay'];
        for (const policy of order) {
          let firstTokenAt = 0;
          const audio = listener.nextAudio(last);
          const upload = speak(target, stream, { tokens: LLM_TOKENS, gapMs: TOKEN_GAP_MS }, `buffering=${policy}`, () => (firstTokenAt = performance.now()));
          const timing = await within(audio, UTTERANCE_TIMEOUT_MS, `first audio with ${policy} buffering`);
          const answer = await within(upload, UTTERANCE_TIMEOUT_MS, 'the speak request');
          if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
          last = timing.utterance;
          // Only the first audio matters: cancel the rest rather than wait for it to play out.
          const ended = listener.ended(timing.utterance);
          const cancelled = await fetch(new URL(`/v1/streams/${stream}/cancel?all=true`, target.url), {
            method: 'POST',
            headers: { authorization: `Bearer ${ctx.adminKey}` },
          });
          await cancelled.arrayBuffer();
          await within(ended, UTTERANCE_TIMEOUT_MS, 'the end of a cancelled utterance');
          listener.forget(timing.utterance);
          if (run > 0) samples[policy].push(timing.firstAudioAt - firstTokenAt);
        }
      }
    } finally {
      listener.close();
    }
  } finally {
    await relay.stop();
  }
  const firstSentence = LLM_REPLY.slice(0, LLM_REPLY.indexOf('.') + 1);
  let chars = 0;
  let tokensOfFirst = 0;
  while (chars < firstSentence.length) chars += LLM_TOKENS[tokensOfFirst++]!.length;
  const result: BufferingResult = {
    runtime,
    provider: source.name,
    tokens: LLM_TOKENS.length,
    tokenGapMs: TOKEN_GAP_MS,
    firstSentenceSentMs: (tokensOfFirst - 1) * TOKEN_GAP_MS,
    relayBuffering: summarize(samples.relay),
    providerBuffering: summarize(samples.provider),
  };
  ctx.log(
    `  buffering: relay p50 ${result.relayBuffering.p50.toFixed(0)} ms (n=${result.relayBuffering.n}), ` +
      `provider p50 ${result.providerBuffering.p50.toFixed(0)} ms (n=${result.providerBuffering.n}); first sentence sent by ${result.firstSentenceSentMs} ms`,
  );
  return result;
}

export function bufferingRows(result: BufferingResult): Row[] {
  return (['p50', 'p99'] as const).map((q) =>
    row({
      item: 6,
      figure: `first token → first audio ${q}, ${result.tokens} tokens at ${1000 / result.tokenGapMs}/s, ${result.provider} (${result.runtime})`,
      unit: 'ms',
      relay: result.relayBuffering[q],
      baseline: result.providerBuffering[q],
      baselineName: 'provider buffering',
      note: `relay = relay sentence aggregation (max_buffer_delay_ms 0); the first sentence is fully sent at ${result.firstSentenceSentMs} ms`,
    }),
  );
}
