/**
 * A WebSocket publisher barging in on its own reply: the ack of its `interrupt` (or `cancel`) and the cut
 * utterance's `utterance_end` carry the same `heard`, the words a listener reported playing before the cut.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Heard } from '../../shared/protocol.ts';
import type { PublishServerMessage } from '../../shared/publish-protocol.ts';
import { connectPublisher, isAck, isPublisherEnd, type RecordedPublisher } from '../publish/publisher-client.ts';
import { isEnd, isStart } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay } from '../support/relay.ts';
import { RATE, received, report } from './listener-reports.ts';

const REPLY = 'Revenue grew in every region, costs stayed flat, and the team shipped the new billing system two weeks early. '.repeat(3);

let relay: TestRelay;
let publisher: RecordedPublisher | undefined;

beforeEach(async () => {
  // A short playout lead, so a report 0.2 s behind what was sent is within what was presented (see played-reports.test.ts).
  relay = await startTestRelay({ RELAY_HEARD_WAIT_MS: '1000', RELAY_PLAYOUT_LEAD_MS: '100' });
});

afterEach(async () => {
  publisher?.close();
  publisher = undefined;
  await relay.close();
});

/** Publishes REPLY, lets the listener report 1.5 s played, stops it with `stop`; the ack and the utterance's end. */
async function bargeIn(stream: string, stop: (utteranceId: string) => Record<string, unknown>) {
  const listener = await relay.listen(stream);
  publisher = await connectPublisher(relay.url, stream, TEST_ADMIN_KEY);
  await publisher.waitFor((m) => m.type === 'ready');
  publisher.send({ type: 'text', text: REPLY, seq: 1 });
  publisher.send({ type: 'end', seq: 2 });
  const opened = (await publisher.waitFor((m) => isAck(m) && m.for === 'text')) as Extract<PublishServerMessage, { type: 'ack' }>;
  const utteranceId = opened.utterance_id!;
  const start = await listener.waitFor(isStart);
  expect(start.utterance_id).toBe(utteranceId);
  await listener.waitFor((m) => m.type === 'timestamps' && m.utterance === start.utterance);
  await received(listener, start.utterance, 1.7);
  report(listener, { type: 'played', utterance: start.utterance, samples: Math.round(1.5 * RATE) });
  publisher.socket.send(JSON.stringify({ seq: 3, ...stop(utteranceId) }));
  await listener.waitFor((m) => isEnd(m) && m.utterance === start.utterance);
  report(listener, { type: 'played', utterance: start.utterance, samples: Math.round(1.5 * RATE), final: true });
  const ack = (await publisher.waitFor((m) => isAck(m) && m.seq === 3, 20_000)) as Extract<PublishServerMessage, { type: 'ack' }>;
  const end = (await publisher.waitFor((m) => isPublisherEnd(m) && m.utterance_id === utteranceId, 20_000)) as Extract<PublishServerMessage, { type: 'utterance_end' }>;
  return { utteranceId, ack, end };
}

function expectHeardBeforeTheCut(heard: Heard | undefined): void {
  expect(heard).toMatchObject({ listeners: 1, unconfirmed: 0, seconds: 1.5 });
  expect(heard!.words).toBeGreaterThan(0);
  expect(heard!.text.split(/\s+/)).toHaveLength(heard!.words);
  expect(REPLY.startsWith(heard!.text)).toBe(true);
}

describe('what a publisher is told was heard', () => {
  it('acks an interrupt with the heard of the cut utterance, the same as its utterance_end', async () => {
    const { utteranceId, ack, end } = await bargeIn('pub-interrupt', () => ({ type: 'interrupt' }));
    expect(ack).toMatchObject({ for: 'interrupt', cancelled: [utteranceId] });
    expect(end.reason).toBe('cancelled');
    expectHeardBeforeTheCut(end.heard);
    expect(ack.heard?.[utteranceId]).toEqual(end.heard);
    console.log(`publisher interrupt: sent "${REPLY.slice(0, 50)}…"; heard ${end.heard!.seconds} s: "${end.heard!.text}" (${end.heard!.words} words)`);
  });

  it('acks a cancel of its utterance with the same heard as its utterance_end', async () => {
    const { utteranceId, ack, end } = await bargeIn('pub-cancel', (id) => ({ type: 'cancel', utterance_id: id }));
    expect(ack).toMatchObject({ for: 'cancel', cancelled: [utteranceId] });
    expect(end.reason).toBe('cancelled');
    expectHeardBeforeTheCut(end.heard);
    expect(ack.heard?.[utteranceId]).toEqual(end.heard);
  });
});
