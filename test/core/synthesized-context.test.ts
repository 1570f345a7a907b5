import { describe, expect, it } from 'vitest';
import { SynthesizedContext } from '../../worker/core/synthesized-context.ts';
import { Metrics } from '../../worker/ops/metrics.ts';
import type { ProviderEvent } from '../../worker/providers/provider.ts';

// 100 bytes a second, so byte counts read as hundredths of a second.
const BYTES_PER_SECOND = 100;

function audio(bytes: number): ProviderEvent {
  return { type: 'audio', data: new Uint8Array(bytes) };
}

/** A context wired to a real metrics registry, as the Cartesia-compatible ingress wires it. */
function heldContext(maxSeconds = 1) {
  const metrics = new Metrics();
  let cancelledByStream = 0;
  const context = new SynthesizedContext({
    maxSeconds,
    secondsOf: (bytes) => bytes / BYTES_PER_SECOND,
    onHeld: (delta) => metrics.audioHeld(delta),
    onCancel: () => cancelledByStream++,
  });
  const gauge = () => Number(/^tts_relay_held_audio_bytes (\S+)$/m.exec(metrics.render({ listeners: 0, streams: 0, ready: true, info: {} }))?.[1]);
  return { context, gauge, cancels: () => cancelledByStream, events: context.events[Symbol.asyncIterator]() };
}

/** Whether a promise has settled, once the microtasks already queued have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('SynthesizedContext', () => {
  it('holds at most its max seconds: offer waits past them and resumes as the stream takes audio', async () => {
    const { context, gauge, events } = heldContext(1);
    await context.offer(audio(60));
    const second = context.offer(audio(60));
    expect(await settled(second)).toBe(false);
    expect(gauge()).toBe(120);
    const first = await events.next();
    expect(first.value).toMatchObject({ type: 'audio' });
    expect(await settled(second)).toBe(true);
    expect(gauge()).toBe(60);
  });

  it('returns the held-audio gauge to 0 once the stream has played the context', async () => {
    const { context, gauge, events } = heldContext(1);
    await context.offer(audio(50));
    await context.offer({ type: 'timestamps', words: [{ word: 'Hi', start: 0, end: 0.5 }] });
    await context.offer(audio(40));
    await context.offer({ type: 'done' });
    expect(gauge()).toBe(90);
    const types: string[] = [];
    for (let next = await events.next(); !next.done; next = await events.next()) types.push(next.value.type);
    expect(types).toEqual(['audio', 'timestamps', 'audio', 'done']);
    expect(gauge()).toBe(0);
    expect(context.open).toBe(false);
  });

  it('returns the gauge to 0 on a cancel, releases a waiting producer and takes nothing more', async () => {
    const { context, gauge, cancels, events } = heldContext(1);
    await context.offer(audio(80));
    const waiting = context.offer(audio(80));
    expect(await settled(waiting)).toBe(false);
    context.cancel();
    expect(await settled(waiting)).toBe(true);
    expect(gauge()).toBe(0);
    expect(cancels()).toBe(1);
    await context.offer(audio(500));
    expect(gauge()).toBe(0);
    expect((await events.next()).done).toBe(true);
    context.cancel();
    expect(cancels()).toBe(1);
  });

  it('returns the gauge to 0 when cancelled midway through playing', async () => {
    const { context, gauge, events } = heldContext(10);
    for (let i = 0; i < 4; i++) await context.offer(audio(100));
    await events.next();
    expect(gauge()).toBe(300);
    context.cancel();
    expect(gauge()).toBe(0);
    expect((await events.next()).done).toBe(true);
  });
});
