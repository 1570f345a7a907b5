import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import type { ClockPong, Hello, ListenerMessage, TimingMessage, UtteranceEnd } from '../../shared/protocol.ts';
import { isEnd, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, type TestRelay, within } from '../support/relay.ts';

let relay: TestRelay;

beforeEach(async () => {
  relay = await startTestRelay({ RELAY_SYNC_DELAY_MS: '180' });
});

afterEach(async () => {
  await relay.close();
});

const isTiming = (m: ListenerMessage): m is TimingMessage => m.type === 'timing';
const endOf = (listener: RecordedListener, utterance: number) =>
  listener.waitFor((m): m is UtteranceEnd => m.type === 'utterance_end' && m.utterance === utterance, 30_000);

/** Presentation time of a sample from the utterance's latest timing at or before it. */
function presentedAt(timings: TimingMessage[], sample: number, rate: number): number {
  const anchor = timings.findLast((t) => t.sample <= sample)!;
  return anchor.at + ((sample - anchor.sample) / rate) * 1000;
}

describe('presentation times', () => {
  it('announces the relay clock and the sync delay in hello', async () => {
    const before = Date.now();
    const listener = await relay.listen('kitchen');
    const hello = listener.messages[0] as Hello;
    expect(hello.clock?.sync_delay_ms).toBe(180);
    // Same host: the relay clock is this machine's epoch clock, read monotonically.
    expect(hello.clock!.time).toBeGreaterThan(before - 50);
    expect(hello.clock!.time).toBeLessThan(Date.now() + 50);
  });

  it('places every sample on the relay clock, before the audio is due, for listeners that ask', async () => {
    const timed = await relay.listen('kitchen', { timing: 'true' });
    const plain = await relay.listen('kitchen');
    const arrivals: number[] = [];
    timed.socket.on('message', (_data, isBinary) => isBinary && arrivals.push(Date.now()));
    const first = (await (await relay.speak('kitchen', 'The first sentence is here.', { query: 'wait=true' })).json()) as SpeakCompleted;
    const second = (await (await relay.speak('kitchen', 'And a second one follows.', { query: 'wait=true' })).json()) as SpeakCompleted;
    const rate = (timed.messages[0] as Hello).format.sample_rate;
    for (const { utterance } of [first, second]) {
      const end = await endOf(timed, utterance);
      const events = timed.events.filter((e) => (e.kind === 'audio' ? e.frame.utterance : (e.message as { utterance?: number }).utterance) === utterance);
      // The timing comes after the start and before the first audio it places.
      expect(events.map((e) => (e.kind === 'audio' ? 'audio' : e.message.type)).slice(0, 3)).toEqual(['utterance_start', 'timing', 'audio']);
      const timings = timed.messages.filter(isTiming).filter((t) => t.utterance === utterance);
      expect(timings[0]!.sample).toBe(0);
      // The end is where the samples run out on the timeline.
      expect(end.reason).toBe('done');
      expect(end.at!).toBeCloseTo(presentedAt(timings, end.samples, rate), 3);
    }
    // Every frame arrived before it was due, on this host's clock (the relay's, here).
    const frames = timed.frames;
    frames.forEach((frame, i) => {
      const timings = timed.messages.filter(isTiming).filter((t) => t.utterance === frame.utterance);
      expect(presentedAt(timings, frame.sampleOffset, rate)).toBeGreaterThan(arrivals[i]!);
    });
    // The second utterance is presented after the first one ends.
    const firstEnd = await endOf(timed, first.utterance);
    const secondStart = timed.messages.filter(isTiming).find((t) => t.utterance === second.utterance)!;
    expect(secondStart.at).toBeGreaterThanOrEqual(firstEnd.at! - 0.001);
    expect(plain.messages.some(isTiming)).toBe(false);
    expect((await endOf(plain, first.utterance)).at).toBe(firstEnd.at);
  });

  it('answers clock pings with the relay clock, and caps a flood', async () => {
    const listener = await relay.listen('kitchen');
    const pongs: ClockPong[] = [];
    listener.socket.on('message', (data, isBinary) => {
      const message = isBinary ? null : (JSON.parse(data.toString()) as ListenerMessage);
      if (message?.type === 'clock_pong') pongs.push(message);
    });
    const sentAt = Date.now();
    listener.socket.send(JSON.stringify({ type: 'clock_ping', id: 7, t0: 12.5 }));
    await within(listener.waitFor((m) => m.type === 'clock_pong'), 5000, 'clock_pong');
    expect(pongs[0]).toMatchObject({ type: 'clock_pong', id: 7, t0: 12.5 });
    expect(pongs[0]!.t2).toBeGreaterThanOrEqual(pongs[0]!.t1);
    expect(pongs[0]!.t1).toBeGreaterThan(sentAt - 50);
    expect(pongs[0]!.t1).toBeLessThan(Date.now() + 50);
    for (let i = 0; i < 200; i++) listener.socket.send(JSON.stringify({ type: 'clock_ping', id: i, t0: i }));
    listener.socket.send(JSON.stringify({ type: 'clock_ping', id: 999, t0: 0 }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The burst allowance answers about 20 of 201; the socket stays open.
    expect(pongs.length).toBeLessThan(40);
    expect(listener.socket.readyState).toBe(listener.socket.OPEN);
    listener.socket.send('{"type":"clock_ping","id":-1,"t0":0}');
    expect((await within(listener.closed, 5000, 'close')).code).toBe(4400);
  });

  it('cuts a cancelled utterance at the moment of the cancel, a sync delay later, for everyone', async () => {
    const timed = await relay.listen('kitchen', { timing: 'true' });
    const speaking = relay.speak('kitchen', 'This sentence is long enough to be cut well before its end, which it will be, soon.', { query: 'wait=true' });
    await timed.waitFor((m) => m.type === 'timing', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cancelAt = Date.now();
    await relay.request('/v1/streams/kitchen/cancel', { method: 'POST' });
    const cancelled = Date.now();
    await speaking;
    const end = (await timed.waitFor(isEnd, 30_000)) as UtteranceEnd;
    expect(end.reason).toBe('cancelled');
    // The cut is the moment the relay cancelled (between the request and its answer), a sync delay later; where the
    // timeline ran dry before that (synthesis behind real time on a busy machine), the end of what was released.
    const rate = (timed.messages[0] as Hello).format.sample_rate;
    const releasedEnd = presentedAt(timed.messages.filter(isTiming).filter((t) => t.utterance === end.utterance), end.samples, rate);
    expect(end.at!).toBeGreaterThanOrEqual(Math.min(cancelAt + 180 - 1, releasedEnd - 0.001));
    expect(end.at!).toBeLessThanOrEqual(cancelled + 180 + 1);
    // A late joiner in step is placed at once: start, then the stretch it joins.
    const next = relay.speak('kitchen', 'Another sentence for a listener joining in the middle of it, a long one too.');
    await timed.waitFor((m) => m.type === 'timing' && m.utterance > end.utterance, 30_000);
    const joiner = await relay.listen('kitchen', { timing: 'true' });
    await within(joiner.waitFor(isTiming), 5000, 'timing for a joiner');
    expect(joiner.messages.map((m) => m.type).slice(0, 3)).toEqual(['hello', 'utterance_start', 'timing']);
    await next;
  });
});
