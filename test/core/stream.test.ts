import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerEvent } from '../../worker/broker/broker.ts';
import { MemoryBroker } from '../../worker/broker/memory.ts';
import { Stream, type StreamLimits } from '../../worker/core/stream.ts';
import { silentLogger } from '../../worker/ops/logger.ts';
import { ScriptedProvider } from '../support/fakes.ts';

const LIMITS: StreamLimits = { maxQueue: 2, maxCharacters: 100, providerTimeoutMs: 60_000, idleFlushMs: 5, playoutLeadMs: 60_000, syncDelayMs: 0 };

interface Rig {
  stream: Stream;
  provider: ScriptedProvider;
  events: BrokerEvent[];
}

let ids = 0;
function rig(limits: Partial<StreamLimits> = {}): Rig {
  const provider = new ScriptedProvider();
  const broker = new MemoryBroker();
  const events: BrokerEvent[] = [];
  broker.subscribe('room', (event) => events.push(event));
  const stream = new Stream('room', { provider, broker, limits: { ...LIMITS, ...limits }, logger: silentLogger, now: () => performance.now(), newId: () => `utt_${++ids}` });
  return { stream, provider, events };
}

const ends = (events: BrokerEvent[]) => events.filter((event) => event.type === 'utterance_end').map((event) => `${event.utterance_id}:${event.reason}`);

describe('Stream', () => {
  let open: Rig | null = null;
  afterEach(() => {
    open?.stream.cancel(true);
    open = null;
  });

  it('speaks its utterances one at a time, in the order they were queued', async () => {
    const r = (open = rig());
    const first = r.stream.enqueue({ receivedAt: 0, buffering: 'provider' });
    const second = r.stream.enqueue({ receivedAt: 0, buffering: 'provider' });
    first.write('One.');
    first.end();
    second.write('Two.');
    second.end();
    const one = await r.provider.context(1);
    expect(r.provider.contexts).toHaveLength(1);
    expect(r.stream.status()).toMatchObject({ current: { utterance_id: first.id }, queue: [{ utterance_id: second.id }] });
    one.audio(320);
    one.done();
    expect((await first.result).reason).toBe('done');
    const two = await r.provider.context(2);
    await expect.poll(() => two.pushed).toEqual(['Two.']);
    two.done();
    expect((await second.result).reason).toBe('done');
    expect(r.events.map((event) => event.type)).toEqual(['utterance_start', 'timing', 'audio', 'utterance_end', 'utterance_start', 'utterance_end']);
    expect(r.events.filter((event) => event.type !== 'audio').map((event) => event.utterance)).toEqual([1, 1, 1, 2, 2]);
  });

  it('refuses an utterance past the queue limit with queue_full', async () => {
    const r = (open = rig({ maxQueue: 1 }));
    r.stream.enqueue({ receivedAt: 0 });
    await r.provider.context(1);
    r.stream.enqueue({ receivedAt: 0 });
    expect(() => r.stream.enqueue({ receivedAt: 0 })).toThrow(expect.objectContaining({ code: 'queue_full' }));
  });

  it('cancels the current utterance and, with all, the queue: each ends cancelled and the provider context is cancelled', async () => {
    const r = (open = rig());
    const speaking = r.stream.enqueue({ receivedAt: 0 });
    const queued = r.stream.enqueue({ receivedAt: 0 });
    const context = await r.provider.context(1);
    expect(r.stream.cancel(true)).toEqual([speaking.id, queued.id]);
    expect((await speaking.result).reason).toBe('cancelled');
    expect((await queued.result).reason).toBe('cancelled');
    expect(context.cancelled).toBe(true);
    // Only the one that had started is announced to listeners.
    expect(ends(r.events)).toEqual([`${speaking.id}:cancelled`]);
    await expect.poll(() => r.stream.busy).toBe(false);
  });

  it('cancels one utterance by id, queued or speaking, and leaves the others', async () => {
    const r = (open = rig());
    const speaking = r.stream.enqueue({ receivedAt: 0, buffering: 'provider' });
    const doomed = r.stream.enqueue({ receivedAt: 0, buffering: 'provider' });
    await r.provider.context(1);
    expect(r.stream.cancelUtterance(doomed.id)).toBe(true);
    expect((await doomed.result).reason).toBe('cancelled');
    expect(r.stream.status().queue).toEqual([]);
    expect(speaking.ended).toBe(false);
    expect(r.stream.cancelUtterance(doomed.id)).toBe(false);
    expect(r.stream.cancelUtterance('utt_unknown')).toBe(false);
    expect(r.stream.cancelUtterance(speaking.id)).toBe(true);
    expect((await speaking.result).reason).toBe('cancelled');
  });

  it('fails an utterance whose text passes the character limit with text_too_long, and goes on with the next', async () => {
    const r = (open = rig({ maxCharacters: 10 }));
    const long = r.stream.enqueue({ receivedAt: 0 });
    const next = r.stream.enqueue({ receivedAt: 0, buffering: 'provider' });
    long.write('Short. ');
    expect(() => long.write('Far too long now.')).toThrow(expect.objectContaining({ code: 'text_too_long' }));
    const result = await long.result;
    expect(result).toMatchObject({ reason: 'error', characters: 24 });
    expect(result.error?.code).toBe('text_too_long');
    next.write('Fine.');
    next.end();
    const context = await r.provider.context(2);
    await expect.poll(() => context.pushed).toEqual(['Fine.']);
  });

  it('aggregates text into sentences before the provider with relay buffering, and flushes on request', async () => {
    const r = (open = rig());
    const utterance = r.stream.enqueue({ receivedAt: 0 });
    const context = await r.provider.context(1);
    utterance.write('Hello there. How ');
    utterance.write('are');
    utterance.flush();
    utterance.end();
    await expect.poll(() => context.ended).toBe(true);
    expect(context.pushed).toEqual(['Hello there. ', 'How are ']);
    expect(context.flushes).toBe(1);
  });
});
