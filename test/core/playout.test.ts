import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BrokerEvent } from '../../worker/broker/broker.ts';
import { Playout } from '../../worker/core/playout.ts';

function audio(n: number): BrokerEvent {
  return { type: 'audio', utterance: 1, data: new Uint8Array([n]) };
}

describe('Playout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('releases audio at once up to the lead, then at the pace it plays', () => {
    vi.useFakeTimers();
    let now = 0;
    const released: number[] = [];
    const playout = new Playout(1000, (event) => event.type === 'audio' && released.push(event.data[0]!), () => now);
    for (let i = 0; i < 5; i++) playout.push(audio(i), 0.5);
    // 0.5 s chunks: the first three fit in the first second of lead (0, 0.5, 1.0 s ahead).
    expect(released).toEqual([0, 1, 2]);
    expect(playout.aheadMs).toBe(1500);
    now = 600;
    vi.advanceTimersByTime(500);
    expect(released).toEqual([0, 1, 2, 3]);
    playout.clear();
    now = 5000;
    vi.advanceTimersByTime(5000);
    expect(released).toEqual([0, 1, 2, 3]);
  });

  it('keeps control events in order behind the audio they follow', () => {
    const now = 0;
    const types: string[] = [];
    const playout = new Playout(0, (event) => types.push(event.type), () => now);
    playout.push(audio(0), 1);
    playout.push(audio(1), 1);
    playout.push({ type: 'utterance_end', utterance: 1, utterance_id: 'u', reason: 'done' });
    expect(types).toEqual(['timing', 'audio']);
  });

  it('sends word times ahead of the audio they describe, never ahead of their utterance', () => {
    const types: string[] = [];
    const playout = new Playout(0, (event) => types.push(`${event.type}:${event.utterance}`), () => 0);
    playout.push(audio(0), 1);
    playout.push(audio(1), 1);
    playout.pushAhead({ type: 'timestamps', utterance: 1, utterance_id: 'u1', words: [{ word: 'hi', start: 1, end: 1.2 }] });
    // The second chunk waits its turn; the words it holds go out at once.
    expect(types).toEqual(['timing:1', 'audio:1', 'timestamps:1']);
    playout.push({ type: 'utterance_end', utterance: 1, utterance_id: 'u1', reason: 'done' });
    playout.push({ type: 'utterance_start', utterance: 2, utterance_id: 'u2' });
    playout.push({ type: 'audio', utterance: 2, data: new Uint8Array([2]) }, 1);
    playout.pushAhead({ type: 'timestamps', utterance: 2, utterance_id: 'u2', words: [] });
    // Utterance 2's words stay behind its start, which waits behind utterance 1's audio.
    expect(types).toEqual(['timing:1', 'audio:1', 'timestamps:1']);
    playout.clear();
  });

  it('resolves drained when everything is out, or when cleared', async () => {
    const playout = new Playout(0, () => {}, () => 0);
    await playout.drained();
    playout.push(audio(0), 1);
    playout.push(audio(1), 1);
    const drained = playout.drained();
    playout.clear();
    await drained;
  });
});

describe('Playout timeline', () => {
  const timing = { syncDelayMs: 250, clockAt: (reading: number) => 1_000_000 + reading };
  const record = () => {
    const events: BrokerEvent[] = [];
    return { events, timings: () => events.filter((e) => e.type === 'timing') };
  };

  // A clock that jumps by seconds within one turn would look like a publishing overload: let the turn end.
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('places each utterance and each stretch after an underrun with a presentation time', async () => {
    let now = 0;
    const { events, timings } = record();
    const playout = new Playout(10_000, (event) => events.push(event), () => now, timing);
    playout.push(audio(0), 0.5);
    playout.push(audio(1), 0.5);
    expect(timings()).toEqual([{ type: 'timing', utterance: 1, position: 0, at: 1_000_250 }]);
    // Released 10 ms after the timeline ran dry (at 1000): still contiguous, no gap mid-word.
    await nextTurn();
    now = 1010;
    playout.push(audio(2), 0.5);
    expect(timings()).toHaveLength(1);
    // 400 ms late: an explicit gap, 1.5 s into the utterance.
    await nextTurn();
    now = 1900;
    playout.push(audio(3), 0.5);
    expect(timings()[1]).toEqual({ type: 'timing', utterance: 1, position: 1.5, at: 1_000_000 + 1900 + 250 });
    // The next utterance, released while this one still plays: it follows at once, from its own sample 0.
    playout.push({ type: 'audio', utterance: 2, data: new Uint8Array(1) }, 1);
    expect(timings()[2]).toEqual({ type: 'timing', utterance: 2, position: 0, at: 1_000_000 + 2400 + 250 });
    expect(events.map((e) => e.type)).toEqual(['timing', 'audio', 'audio', 'audio', 'timing', 'audio', 'timing', 'audio']);
  });

  it('ends a finished utterance after its last sample, and a cut one now', async () => {
    let now = 0;
    const playout = new Playout(10_000, () => {}, () => now, timing);
    playout.push(audio(0), 2);
    expect(playout.end(false)).toBe(1_000_000 + 2000 + 250);
    await nextTurn();
    now = 3000;
    playout.push(audio(1), 2);
    now = 3500;
    // Released up to 5000, cut at 3500: what was released beyond now is taken back.
    expect(playout.end(true)).toBe(1_000_000 + 3500 + 250);
    expect(playout.aheadMs).toBe(0);
  });
});

describe('Playout backpressure', () => {
  it('until(seconds) waits while more than that much audio is unreleased', async () => {
    vi.useFakeTimers();
    const start = Date.now();
    const playout = new Playout(0, () => {}, () => Date.now() - start);
    for (let i = 0; i < 10; i++) playout.push(audio(i), 1);
    let room = false;
    void playout.until(5).then(() => (room = true));
    await vi.advanceTimersByTimeAsync(3500);
    // 10 s queued; one chunk goes out at 0 s and one more each second: 6 s still wait at 3.5 s.
    expect(room).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(room).toBe(true);
  });
});

describe('Playout under overload', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('drained also waits for control events queued behind audio, where until() counts audio only', async () => {
    vi.useFakeTimers();
    let now = 0;
    const types: string[] = [];
    const playout = new Playout(0, (event) => types.push(event.type), () => now);
    playout.push(audio(0), 1);
    playout.push(audio(1), 1);
    playout.push({ type: 'utterance_end', utterance: 1, utterance_id: 'u', reason: 'done' });
    let drained = false;
    void playout.drained().then(() => (drained = true));
    await playout.until(1);
    expect(types).toEqual(['timing', 'audio']);
    expect(drained).toBe(false);
    now = 1000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(types).toEqual(['timing', 'audio', 'audio', 'utterance_end']);
    expect(drained).toBe(true);
  });

  it('yields to the event loop when publishing takes longer than the audio plays, and keeps the order', () => {
    vi.useFakeTimers();
    let now = 0;
    let publishMs = 0;
    const released: number[] = [];
    const playout = new Playout(0, (event) => {
      if (event.type === 'audio') released.push(event.data[0]!);
      now += publishMs;
    }, () => now);
    for (let i = 0; i < 4; i++) playout.push(audio(i), 0.02);
    expect(released).toEqual([0]);
    // From here each publish takes 60 ms of a 20 ms chunk: a fan-out past its capacity, with a backlog.
    publishMs = 60;
    now = 20;
    vi.advanceTimersByTime(20);
    expect(released).toEqual([0, 1]);
    // setTimeout(0) is 1 ms, in Node as under fake timers.
    vi.advanceTimersByTime(1);
    expect(released).toEqual([0, 1, 2]);
    vi.advanceTimersByTime(1);
    expect(released).toEqual([0, 1, 2, 3]);
  });

  it('bounds publishing per turn when each event arrives in its own push, as provider events do', () => {
    vi.useFakeTimers();
    let now = 0;
    const released: number[] = [];
    // Each publish takes 60 ms: the pushes below are one synchronous chain, like a provider's burst.
    const playout = new Playout(10_000, (event) => {
      if (event.type === 'audio') released.push(event.data[0]!);
      now += 60;
    }, () => now);
    for (let i = 0; i < 4; i++) playout.push(audio(i), 0.05);
    // The chain published once, then left the rest for later turns instead of running on for 240 ms.
    expect(released).toEqual([0]);
    for (let turn = 0; turn < 10 && released.length < 4; turn++) vi.advanceTimersByTime(1);
    expect(released).toEqual([0, 1, 2, 3]);
  });
});
