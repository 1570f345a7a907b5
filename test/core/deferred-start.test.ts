import { describe, expect, it } from 'vitest';
import type { BrokerEvent } from '../../worker/broker/broker.ts';
import { DeferredStart } from '../../worker/core/deferred-start.ts';

const start = (utterance: number) => ({ type: 'utterance_start', utterance, utterance_id: `u${utterance}` }) as const;

describe('DeferredStart', () => {
  it('publishes the start once the turn has done its I/O, not while the provider request is still on its way', async () => {
    const published: BrokerEvent[] = [];
    const deferred = new DeferredStart((event) => published.push(event));
    deferred.announce(start(1));
    await Promise.resolve();
    expect(published).toEqual([]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(published).toEqual([start(1)]);
  });

  it('comes out first when anything else of the stream is published before then, and only once', async () => {
    const published: string[] = [];
    const deferred = new DeferredStart((event) => published.push(`start ${event.utterance}`));
    deferred.announce(start(1));
    deferred.flush();
    published.push('end 1');
    deferred.announce(start(2));
    deferred.announce(start(3));
    await new Promise<void>((resolve) => setImmediate(resolve));
    deferred.flush();
    expect(published).toEqual(['start 1', 'end 1', 'start 2', 'start 3']);
  });
});
