import { afterEach, describe, expect, it } from 'vitest';
import type { PublishServerMessage } from '../../shared/publish-protocol.ts';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';
import { connectPublisher, isAck, isPublisherEnd, type RecordedPublisher } from './publisher-client.ts';

let relay: TestRelay | null = null;
const sockets: Array<RecordedListener | RecordedPublisher> = [];

async function start(env: Record<string, string> = {}): Promise<TestRelay> {
  relay = await startTestRelay(env);
  return relay;
}

async function listen(stream: string, query?: Record<string, string>): Promise<RecordedListener> {
  const listener = await connectListener(relay!.url, stream, { key: TEST_ADMIN_KEY, ...(query ? { query } : {}) });
  sockets.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

async function publisher(stream: string): Promise<RecordedPublisher> {
  const p = await connectPublisher(relay!.url, stream, TEST_ADMIN_KEY);
  sockets.push(p);
  await p.waitFor((m) => m.type === 'ready');
  return p;
}

const ackOf = (seq: number) => (m: PublishServerMessage) => m.type === 'ack' && m.seq === seq;

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await relay?.close();
  relay = null;
});

describe('publishing over a WebSocket', () => {
  it('greets with ready, acks every message in order with its utterance id, and reports each utterance end', async () => {
    await start();
    const listener = await listen('pub');
    const p = await publisher('pub');
    expect(p.replies[0]).toMatchObject({ type: 'ready', protocol: 1, stream: 'pub', max_pending_chars: 1000 });

    p.send({ type: 'text', text: 'Hello from a socket, ', seq: 1 });
    p.send({ type: 'text', text: 'in two pieces.', seq: 2 });
    p.send({ type: 'flush', seq: 3 });
    p.send({ type: 'end', seq: 4 });
    p.send({ type: 'text', text: 'And a second utterance.', seq: 5 });
    p.send({ type: 'end', seq: 6 });
    await p.waitFor(ackOf(6));

    const acks = p.replies.filter(isAck) as Array<Extract<PublishServerMessage, { type: 'ack' }>>;
    expect(acks.map((a) => [a.seq, a.for])).toEqual([[1, 'text'], [2, 'text'], [3, 'flush'], [4, 'end'], [5, 'text'], [6, 'end']]);
    const first = acks[0]!.utterance_id;
    expect(first).toMatch(/^utt_/);
    expect(acks.slice(0, 4).every((a) => a.utterance_id === first)).toBe(true);
    expect(acks[4]!.utterance_id).not.toBe(first);
    expect(acks[5]!.utterance_id).toBe(acks[4]!.utterance_id);

    const ends = await within(
      (async () => [await p.waitFor((m) => isPublisherEnd(m) && m.utterance_id === first), await p.waitFor((m) => isPublisherEnd(m) && m.utterance_id === acks[4]!.utterance_id)])(),
      20_000,
      'both utterance ends',
    );
    expect(ends[0]).toMatchObject({ reason: 'done', characters: 'Hello from a socket, in two pieces.'.length });
    expect(ends[1]).toMatchObject({ reason: 'done', characters: 'And a second utterance.'.length });
    await listener.waitFor((m) => isEnd(m) && m.utterance_id === acks[4]!.utterance_id);
    expect(listener.messages.filter(isStart).map((m) => m.utterance_id)).toEqual([first, acks[4]!.utterance_id]);
    expect(listener.audioOf(acks[0]!.utterance!).byteLength).toBeGreaterThan(20_000);
  });

  it('answers a bad message with an error carrying its seq, and keeps the socket open', async () => {
    await start();
    const p = await publisher('bad');
    p.socket.send('not json');
    p.socket.send(JSON.stringify({ type: 'shout', seq: 7 }));
    p.socket.send(JSON.stringify({ type: 'text', seq: 8 }));
    p.send({ type: 'text', text: 'Still here.', seq: 9 });
    await p.waitFor(ackOf(9));
    const errors = p.replies.filter((m) => m.type === 'error');
    expect(errors).toHaveLength(3);
    expect(errors.map((e) => e.type === 'error' && e.error.code)).toEqual(['invalid_message', 'invalid_message', 'invalid_message']);
    expect(errors.map((e) => e.type === 'error' && e.seq)).toEqual([undefined, 7, 8]);
    expect(p.socket.readyState).toBe(1);
  });

  it('refuses a plain GET and an unauthenticated upgrade', async () => {
    await start();
    const plain = await relay!.request('/v1/streams/x/publish');
    expect(plain.status).toBe(400);
    await expect(connectPublisher(relay!.url, 'x', 'wrong-key-0123456789')).rejects.toThrow(/401/);
  });

  it('cancel stops the open utterance for its listeners, and the next text opens a new one', async () => {
    await start();
    const listener = await listen('cut');
    const p = await publisher('cut');
    p.send({ type: 'text', text: 'This sentence is long enough to be cut off while it is being spoken aloud. ', seq: 1 });
    const ack = (await p.waitFor(ackOf(1))) as Extract<PublishServerMessage, { type: 'ack' }>;
    await listener.waitFor(isStart);
    await within(new Promise<void>((resolve) => listener.socket.once('message', (_d, binary) => binary && resolve())), 5000, 'first audio');
    p.send({ type: 'cancel', seq: 2 });
    const cancelAck = await p.waitFor(ackOf(2));
    expect(cancelAck).toMatchObject({ for: 'cancel', cancelled: [ack.utterance_id] });
    const end = await listener.waitFor(isEnd);
    expect(end).toMatchObject({ utterance_id: ack.utterance_id, reason: 'cancelled' });
    expect(await p.waitFor(isPublisherEnd)).toMatchObject({ utterance_id: ack.utterance_id, reason: 'cancelled' });

    p.send({ type: 'text', text: 'A fresh start.', seq: 3 });
    p.send({ type: 'end', seq: 4 });
    const fresh = (await p.waitFor(ackOf(3))) as Extract<PublishServerMessage, { type: 'ack' }>;
    expect(fresh.utterance_id).not.toBe(ack.utterance_id);
    expect(await listener.waitFor((m) => isEnd(m) && m.utterance_id === fresh.utterance_id)).toMatchObject({ reason: 'done' });
  });

  it('swallows text for an utterance cancelled from elsewhere until its end, then starts anew', async () => {
    await start();
    const listener = await listen('other');
    const p = await publisher('other');
    p.send({ type: 'text', text: 'Somebody else will cancel this sentence before it is over. ', seq: 1 });
    const ack = (await p.waitFor(ackOf(1))) as Extract<PublishServerMessage, { type: 'ack' }>;
    await listener.waitFor(isStart);
    expect((await relay!.request('/v1/streams/other/cancel', { method: 'POST' })).status).toBe(200);
    await p.waitFor(isPublisherEnd);
    p.send({ type: 'text', text: 'The rest of the cancelled thought.', seq: 2 });
    p.send({ type: 'end', seq: 3 });
    p.send({ type: 'text', text: 'New thought.', seq: 4 });
    p.send({ type: 'end', seq: 5 });
    expect(await p.waitFor(ackOf(2))).toMatchObject({ utterance_id: ack.utterance_id, dropped: true });
    const next = (await p.waitFor(ackOf(4))) as Extract<PublishServerMessage, { type: 'ack' }>;
    expect(next.dropped).toBeUndefined();
    expect(next.utterance_id).not.toBe(ack.utterance_id);
    await listener.waitFor((m) => isEnd(m) && m.utterance_id === next.utterance_id);
  });

  it('waits for room, without acking, while the stream queue is full', async () => {
    await start({ RELAY_MAX_QUEUE: '1' });
    const listener = await listen('full');
    const playing = controlledBody();
    const first = relay!.speak('full', playing.body);
    playing.write('The first utterance keeps the stream busy for a good while, sentence after sentence. ');
    await listener.waitFor(isStart);
    const queued = controlledBody();
    const second = relay!.speak('full', queued.body);
    queued.write('The second one waits in the queue. ');
    await within(
      (async () => {
        while (((await (await relay!.request('/v1/streams/full')).json()) as { queue: unknown[] }).queue.length < 1) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'second utterance queued',
    );

    const p = await publisher('full');
    p.send({ type: 'text', text: 'I wait for room.', seq: 1 });
    await new Promise((r) => setTimeout(r, 400));
    expect(p.replies.some(ackOf(1))).toBe(false);

    // Cancelling the current one moves the queued one up and frees the slot.
    await relay!.request('/v1/streams/full/cancel', { method: 'POST' });
    const ack = await p.waitFor(ackOf(1), 5000);
    expect(ack).toMatchObject({ for: 'text', utterance_id: expect.stringMatching(/^utt_/) });
    playing.end();
    queued.end();
    await Promise.allSettled([first, second]);
  });
});

describe('publish backpressure', () => {
  it('slows a publisher that outruns synthesis to the bound, and loses or repeats nothing', async () => {
    const MAX_PENDING = 150;
    // Audio goes out as fast as it is made, so synthesis alone sets the pace.
    await start({ RELAY_PUBLISH_MAX_PENDING_CHARS: String(MAX_PENDING), RELAY_PLAYOUT_LEAD_MS: '3600000' });
    // A small format keeps the listener's socket from queueing timestamps behind megabytes of audio.
    const listener = await listen('flood', { encoding: 'pcm_mulaw', sample_rate: '8000' });
    const heard: Array<{ at: number; words: string[] }> = [];
    listener.socket.on('message', (data, binary) => {
      if (binary) return;
      const message = JSON.parse(data.toString()) as { type: string; words?: Array<{ word: string }> };
      if (message.type === 'timestamps') heard.push({ at: performance.now(), words: message.words!.map((w) => w.word) });
    });
    const p = await publisher('flood');

    // Four words a sentence, so what was heard converts back to sentences.
    const sentences = Array.from({ length: 96 }, (_, i) => `Sentence ${numberWord(i)} goes here. `);
    const text = sentences.join('');
    const sentAt = performance.now();
    sentences.forEach((sentence, i) => p.send({ type: 'text', text: sentence, seq: i }));
    // Everything is in the socket at once (the callback fires once written out); the relay takes it as speech catches up.
    await new Promise<void>((resolve) => p.socket.send(JSON.stringify({ type: 'end', seq: sentences.length }), () => resolve()));
    const flushedAt = performance.now();
    const end = await within(p.waitFor(isPublisherEnd, 60_000), 60_000, 'utterance end');
    expect(end).toMatchObject({ reason: 'done', characters: text.length });
    await listener.waitFor(isEnd);

    // Acks come one by one as synthesis catches up, never all at once.
    const textAcks = p.replies.filter((m): m is Extract<PublishServerMessage, { type: 'ack' }> & { at: number } => isAck(m) && m.for === 'text');
    expect(textAcks.map((a) => a.seq)).toEqual(sentences.map((_, i) => i));
    const ackedWhenSent = textAcks.filter((a) => a.at <= flushedAt).length;

    // Bounded: when each ack arrived, the relay held at most the bound (plus the message it took) unspoken.
    let accepted = 0;
    let maxAhead = 0;
    for (const ack of textAcks) {
      accepted += sentences[ack.seq!]!.length;
      const heardWords = heard.filter((h) => h.at <= ack.at).reduce((n, h) => n + h.words.length, 0);
      const heardChars = sentences.slice(0, Math.floor(heardWords / 4)).reduce((n, s) => n + s.length, 0);
      maxAhead = Math.max(maxAhead, accepted - heardChars);
    }
    const lastAckMs = Math.round(textAcks.at(-1)!.at - sentAt);
    console.log(`publish backpressure: ${ackedWhenSent}/${sentences.length} texts acked when the publisher had sent all; last ack after ${lastAckMs} ms; most text ahead of speech at an ack ${Math.round(maxAhead)} chars (bound ${MAX_PENDING})`);
    // One message past the bound is accepted; the listener may hear a sentence's words a moment after the relay counts them.
    expect(maxAhead).toBeLessThanOrEqual(MAX_PENDING + 2 * sentences[0]!.length);

    // Nothing lost, nothing twice: the words spoken are the words sent, in order.
    expect(heard.flatMap((h) => h.words).join(' ')).toBe(text.replace(/\./g, '').trim().split(/\s+/).join(' '));
  }, 90_000);
});

function numberWord(i: number): string {
  const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
  return `${words[Math.floor(i / 10)]}${words[i % 10]}`;
}
