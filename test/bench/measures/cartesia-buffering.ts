/**
 * The two Cartesia buffering policies, timed: an LLM-like token stream (a word every `gapMs`) posted to a
 * relay on the Cartesia emulator, first with relay buffering (the relay cuts sentences and sends
 * `max_buffer_delay_ms: 0`), then with provider buffering (fragments pass through; Cartesia buffers up to
 * CARTESIA_MAX_BUFFER_DELAY_MS). Each figure is the time from the first token sent to the first audio heard.
 */
import { type Runtime, spawnChild } from '../child-process.ts';
import { freePort, sleep, within } from '../clock.ts';
import type { BenchContext } from '../context.ts';
import { ProbeListener } from '../probe-listener.ts';
import { row, type Row } from '../report.ts';
import { speak } from '../speak-client.ts';
import type { AudioSource } from '../sources.ts';
import { summarize, type Summary } from '../stats.ts';

// Two sentences, so relay buffering has a boundary to cut at and provider buffering something to hold.
export const BUFFERING_TEXT = 'The answer streams in one token at a time. Each pause between tokens is short.';
const UTTERANCE_TIMEOUT_MS = 20_000;

export interface BufferingPlan {
  utterances: number;
  /** Pause between tokens, like an LLM streaming its answer. */
  gapMs: number;
}

export interface BufferingResult {
  runtime: Runtime;
  gapMs: number;
  relay: Summary;
  provider: Summary;
}

export async function measureBuffering(ctx: BenchContext, runtime: Runtime, source: AudioSource, plan: BufferingPlan): Promise<BufferingResult> {
  if (source.name !== 'cartesia-emulator') throw new Error('the buffering comparison needs the Cartesia emulator as its provider');
  const port = await freePort();
  const relay = await spawnChild<{ url: string }>('test/bench/relay-child.ts', {
    runtime,
    env: { ...source.relayEnv, ...ctx.relayEnv, PORT: String(port), RELAY_ADMIN_KEY: ctx.adminKey },
  });
  const target = { url: relay.info.url, key: ctx.adminKey };
  const tokens = BUFFERING_TEXT.split(/(?<= )/);
  const samples: Record<'relay' | 'provider', number[]> = { relay: [], provider: [] };
  try {
    for (const policy of ['relay', 'provider'] as const) {
      const name = `buffering-${policy}`;
      const listener = await ProbeListener.open(`${relay.info.url.replace(/^http/, 'ws')}/v1/streams/${name}/listen`, {
        authorization: `Bearer ${ctx.adminKey}`,
      });
      let last = 0;
      try {
        // One unrecorded utterance first: JIT, TLS session and the provider's socket are warm for both policies.
        for (let i = 0; i <= plan.utterances && !ctx.outOfTime(); i++) {
          let sentAt = 0;
          const audio = listener.nextAudio(last);
          const answer = speak(target, name, { tokens, gapMs: plan.gapMs }, `buffering=${policy}`, () => (sentAt = performance.now()));
          const timing = await within(audio, UTTERANCE_TIMEOUT_MS, `first audio (${policy} buffering)`);
          const response = await within(answer, UTTERANCE_TIMEOUT_MS, 'the speak request');
          if (response.status !== 202) throw new Error(`speak answered ${response.status}: ${response.body}`);
          if (i > 0) samples[policy].push(timing.firstAudioAt - sentAt);
          await within(listener.ended(timing.utterance), UTTERANCE_TIMEOUT_MS, 'the end of an utterance');
          listener.forget(timing.utterance);
          last = timing.utterance;
          await sleep(20);
        }
      } finally {
        listener.close();
      }
    }
  } finally {
    await relay.stop();
  }
  const result = { runtime, gapMs: plan.gapMs, relay: summarize(samples.relay), provider: summarize(samples.provider) };
  ctx.log(
    `  buffering, a token every ${plan.gapMs} ms: relay p50 ${result.relay.p50.toFixed(1)} ms (n=${result.relay.n}), ` +
      `provider p50 ${result.provider.p50.toFixed(1)} ms (n=${result.provider.n})`,
  );
  return result;
}

export function bufferingRows(result: BufferingResult): Row[] {
  return (['p50', 'p99'] as const).map((q) =>
    row({
      item: 1,
      figure: `first token → first audio ${q}, token every ${result.gapMs} ms (${result.runtime}): relay buffering vs Cartesia buffering`,
      unit: 'ms',
      relay: result.relay[q],
      baseline: result.provider[q],
      baselineName: 'provider buffering',
      note: 'relay buffering sends max_buffer_delay_ms 0; provider buffering sends CARTESIA_MAX_BUFFER_DELAY_MS',
    }),
  );
}
