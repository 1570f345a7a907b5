import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteQueue } from '../../agent/sinks/write-queue.ts';
import { within } from '../support/relay.ts';

describe('WriteQueue', () => {
  it('hands every chunk, in order, to a slow stream that asks for drain', async () => {
    const received: number[] = [];
    let drains = 0;
    const slow = new Writable({
      highWaterMark: 8,
      write(chunk: Buffer, _encoding, callback) {
        received.push(...chunk);
        setTimeout(callback, 1);
      },
    });
    slow.on('drain', () => drains++);
    const queue = new WriteQueue(slow);

    for (let i = 0; i < 50; i++) queue.push(new Uint8Array([i, i]));
    await within(queue.drained(), 5000, 'drain');
    await within(new Promise((resolve) => slow.end(resolve)), 5000, 'finish');

    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => [i, i]).flat());
    expect(drains).toBeGreaterThan(0);
  });

  it('drops what is queued once the stream closes', async () => {
    const sink = new Writable({ highWaterMark: 1, write: (_chunk, _encoding, callback) => setTimeout(callback, 5) });
    const queue = new WriteQueue(sink);
    for (let i = 0; i < 10; i++) queue.push(new Uint8Array(4));
    sink.destroy();
    await within(queue.drained(), 5000, 'drain after close');
    expect(queue.queuedBytes).toBe(0);
  });
});
