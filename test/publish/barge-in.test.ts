import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted, StreamStatus } from '../../shared/api.ts';
import type { ListenerMessage } from '../../shared/protocol.ts';
import { spawnAgent } from '../agent/agent-process.ts';
import { eventually } from '../support/eventually.ts';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';
import { connectPublisher, isAck, type RecordedPublisher } from './publisher-client.ts';

const LONG = 'This answer is long and it rambles on, sentence after sentence, until somebody interrupts it. '.repeat(3);
const ROUNDS = 5;

let relay: TestRelay;
const sockets: Array<RecordedListener | RecordedPublisher> = [];
const latencies: Record<string, number[]> = {};
const stalls: Record<string, number[]> = {};

/** Watches the event loop (which the in-process relay and its embedded engine share) for stalls. */
function watchEventLoop(): () => number {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 2);
    last = now;
  }, 2);
  return () => {
    clearInterval(timer);
    return Math.max(worst, performance.now() - last - 2);
  };
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await relay.close();
});

afterAll(() => {
  for (const [how, values] of Object.entries(latencies)) {
    const sorted = [...values].sort((a, b) => a - b);
    console.log(
      `barge-in via ${how}: interrupt request → listener's utterance_end(cancelled), ms: ${values.map((v) => v.toFixed(1)).join(', ')} (median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)}); ` +
        `longest event-loop stall in each window, ms: ${stalls[how]!.map((v) => v.toFixed(0)).join(', ')}`,
    );
  }
});

/** Polls the status route until the one listener that reports (the agent) has heard `seconds` of what plays. */
async function agentHeard(stream: string, seconds: number): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const status = (await (await relay.request(`/v1/streams/${stream}`)).json()) as StreamStatus;
    const furthest = Math.max(0, ...(status.positions ?? []).map((p) => p.seconds ?? 0));
    if (furthest >= seconds) return;
    if (performance.now() > deadline) throw new Error(`the agent reported only ${furthest} s heard`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function listen(stream: string): Promise<RecordedListener> {
  const listener = await connectListener(relay.url, stream, { key: TEST_ADMIN_KEY });
  sockets.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

/** Resolves with the arrival time of the first message matching `predicate` (clocked by a listener of its own). */
function arrivalOf(listener: RecordedListener, predicate: (m: ListenerMessage) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer, binary: boolean) => {
      if (binary) return;
      if (!predicate(JSON.parse(data.toString()) as ListenerMessage)) return;
      listener.socket.off('message', onMessage);
      resolve(performance.now());
    };
    listener.socket.on('message', onMessage);
  });
}

/** Starts a long utterance with another queued behind it, and resolves once the first one's audio flows. */
async function busyStream(stream: string, listener: RecordedListener) {
  const playing = relay.speak(stream, LONG, { query: 'wait=true' });
  const start = (await listener.waitFor((m) => isStart(m) && !listener.messages.some((e) => isEnd(e) && e.utterance === m.utterance))) as Extract<ListenerMessage, { type: 'utterance_start' }>;
  const queued = relay.speak(stream, 'I was queued and never get to speak.', { query: 'wait=true' });
  const queueLength = async () => ((await (await relay.request(`/v1/streams/${stream}`)).json()) as { queue: unknown[] }).queue.length;
  await within(
    (async () => {
      while (!listener.frames.some((f) => f.utterance === start.utterance) || (await queueLength()) < 1) await new Promise((r) => setTimeout(r, 5));
    })(),
    5000,
    'first audio, and the second utterance queued',
  );
  return { playing, queued, cut: start };
}

/** After the cut: no frame of the cut utterance follows its end, the queued one never starts, the new one plays. */
function expectCleanCut(listener: RecordedListener, cut: number, next: string): void {
  const endIndex = listener.events.findIndex((e) => e.kind === 'message' && isEnd(e.message) && e.message.utterance === cut);
  expect(endIndex).toBeGreaterThan(0);
  const stale = listener.events.slice(endIndex + 1).filter((e) => e.kind === 'audio' && e.frame.utterance === cut);
  expect(stale).toHaveLength(0);
  const starts = listener.messages.filter(isStart).map((m) => m.utterance_id);
  expect(starts.slice(-1)[0]).toBe(next);
}

describe('barge-in', () => {
  beforeEach(async () => {
    relay = await startTestRelay();
  });

  it(`speak?interrupt=true cuts what plays and clears the queue; the new utterance is next (${ROUNDS} rounds)`, async () => {
    const listener = await listen('talk');
    for (let round = 0; round < ROUNDS; round++) {
      const { playing, queued, cut } = await busyStream('talk', listener);
      const cancelled = arrivalOf(listener, (m) => isEnd(m) && m.utterance === cut.utterance);
      const stall = watchEventLoop();
      const sentAt = performance.now();
      const response = await relay.speak('talk', `Wait, question number ${round + 1}.`, { query: 'interrupt=true' });
      const cancelledAt = await within(cancelled, 5000, 'cancel message');
      (latencies['speak?interrupt=true'] ??= []).push(cancelledAt - sentAt);
      (stalls['speak?interrupt=true'] ??= []).push(stall());

      expect(response.status).toBe(202);
      const next = ((await response.json()) as { utterance_id: string }).utterance_id;
      expect(((await (await playing).json()) as SpeakCompleted).reason).toBe('cancelled');
      expect(((await (await queued).json()) as SpeakCompleted).reason).toBe('cancelled');
      expect(await listener.waitFor((m) => isEnd(m) && m.utterance === cut.utterance)).toMatchObject({ reason: 'cancelled', utterance_id: cut.utterance_id });
      await listener.waitFor((m) => isEnd(m) && m.utterance_id === next);
      expectCleanCut(listener, cut.utterance, next);
    }
  });

  it(`an interrupt message from a publisher does the same (${ROUNDS} rounds)`, async () => {
    const listener = await listen('pub-talk');
    const publisher = await connectPublisher(relay.url, 'pub-talk', TEST_ADMIN_KEY);
    sockets.push(publisher);
    for (let round = 0; round < ROUNDS; round++) {
      const { playing, queued, cut } = await busyStream('pub-talk', listener);
      const cancelled = arrivalOf(listener, (m) => isEnd(m) && m.utterance === cut.utterance);
      const stall = watchEventLoop();
      const sentAt = performance.now();
      publisher.send({ type: 'interrupt', seq: round * 10 });
      const cancelledAt = await within(cancelled, 5000, 'cancel message');
      (latencies['publish interrupt'] ??= []).push(cancelledAt - sentAt);
      (stalls['publish interrupt'] ??= []).push(stall());
      const ack = await publisher.waitFor((m) => isAck(m) && m.seq === round * 10);
      expect(ack).toMatchObject({ for: 'interrupt', cancelled: [cut.utterance_id, expect.stringMatching(/^utt_/)] });

      publisher.send({ type: 'text', text: `Question ${round + 1}.`, seq: round * 10 + 1 });
      publisher.send({ type: 'end', seq: round * 10 + 2 });
      const next = await publisher.waitFor((m) => isAck(m) && m.seq === round * 10 + 1);
      const nextId = (next as Extract<typeof next, { type: 'ack' }>).utterance_id!;
      expect(((await (await playing).json()) as SpeakCompleted).reason).toBe('cancelled');
      expect(((await (await queued).json()) as SpeakCompleted).reason).toBe('cancelled');
      await listener.waitFor((m) => isEnd(m) && m.utterance_id === nextId);
      expectCleanCut(listener, cut.utterance, nextId);
    }
  });

  it('a text that opens an utterance with interrupt: true barges in as one step', async () => {
    const listener = await listen('atomic');
    const { playing, cut } = await busyStream('atomic', listener);
    const publisher = await connectPublisher(relay.url, 'atomic', TEST_ADMIN_KEY);
    sockets.push(publisher);
    publisher.send({ type: 'text', text: 'Excuse me.', interrupt: true, seq: 1 });
    publisher.send({ type: 'end', seq: 2 });
    const ack = (await publisher.waitFor((m) => isAck(m) && m.seq === 1)) as Extract<Awaited<ReturnType<typeof publisher.waitFor>>, { type: 'ack' }>;
    expect(((await (await playing).json()) as SpeakCompleted).reason).toBe('cancelled');
    await listener.waitFor((m) => isEnd(m) && m.utterance_id === ack.utterance_id);
    expectCleanCut(listener, cut.utterance, ack.utterance_id!);
  });

  it('with --sync off, the agent kills and respawns ffplay at the barge-in and marks the cut in its recording', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tts-barge-'));
    try {
      const wav = join(dir, 'barge.wav');
      const agent = spawnAgent(['listen', 'agent-barge', '--player', 'ffplay', '--out', wav, '--once', '--sync', 'off'], { TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
      await agent.waitForLine(/connected to /);
      const witness = await listen('agent-barge');
      // Kept open, so the utterance is still speaking when the barge-in lands.
      const body = controlledBody();
      const playing = relay.speak('agent-barge', body.body);
      body.write(LONG);
      await agent.waitForLine(/playing utterance \d+/);
      // The agent logs "playing" at utterance_start, before any audio; the fan-out sends a frame to every
      // listener in one pass, so once the witness has one the agent has it too, and the cut falls inside audio.
      await eventually(() => witness.frames.length > 0, 10_000, 'first audio');
      const barge = await relay.speak('agent-barge', 'Sorry to interrupt.', { query: 'interrupt=true' });
      expect(barge.status).toBe(202);
      expect(await agent.waitForLine(/ffplay restarted: utterance 1 cancelled/)).toBeTruthy();
      expect((await within(agent.exited, 10_000, 'agent exit')).code).toBe(0);
      body.end();
      await playing.catch(() => undefined);
      const cuts = JSON.parse(await readFile(`${wav}.cuts.json`, 'utf8')) as { cuts: Array<{ utterance: number; reason: string; samples: number }> };
      expect(cuts.cuts).toEqual([expect.objectContaining({ utterance: 1, reason: 'cancelled' })]);
      expect(cuts.cuts[0]!.samples).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('barge-in at an agent in step', () => {
  // The agent must take the end before it writes past the cut: within the sync delay less what ffplay holds (~160 ms).
  // The default 250 ms leaves 90 ms, which a busy machine's scheduling can take; 1 s leaves it most of a second.
  beforeEach(async () => {
    relay = await startTestRelay({ RELAY_SYNC_DELAY_MS: '1000' });
  });

  it('in step (the default), the agent cuts at the relay\'s cut time on its one ffplay and marks the cut in its recording', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tts-barge-'));
    try {
      const wav = join(dir, 'barge.wav');
      const agent = spawnAgent(['listen', 'agent-barge', '--player', 'ffplay', '--out', wav, '--once', '--json'], { TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
      await agent.waitForLine(/in step: relay clock/);
      const witness = await connectListener(relay.url, 'agent-barge', { key: TEST_ADMIN_KEY, query: { timing: 'true' } });
      sockets.push(witness);
      await witness.waitFor((m) => m.type === 'hello');
      // Kept open, so the utterance is still speaking when the barge-in lands.
      const body = controlledBody();
      const playing = relay.speak('agent-barge', body.body);
      body.write(LONG);
      // In step the agent hears a frame a sync delay after it arrives: wait until it reports some heard.
      await agentHeard('agent-barge', 0.2);
      const barge = await relay.speak('agent-barge', 'Sorry to interrupt.', { query: 'interrupt=true' });
      expect(barge.status).toBe(202);
      const end = (await witness.waitFor((m) => isEnd(m) && m.utterance === 1)) as Extract<ListenerMessage, { type: 'utterance_end' }>;
      expect((await within(agent.exited, 10_000, 'agent exit')).code).toBe(0);
      body.end();
      await playing.catch(() => undefined);

      // The cut falls a sync delay ahead, past what ffplay holds: no kill, no respawn, nothing of it heard after the cut.
      expect(end.reason).toBe('cancelled');
      expect(agent.stderr()).not.toMatch(/ffplay restarted/);
      const playout = agent.stdout().toString().split('\n').filter((line) => line.includes('"playout"')).map((line) => JSON.parse(line) as { flushes: number });
      expect(playout.at(0)?.flushes).toBe(0);
      const timeline = JSON.parse(await readFile(`${wav}.timeline.json`, 'utf8')) as { start_at: number; sample_rate: number; utterances: Array<{ utterance: number; start_sample: number; samples: number }> };
      const cut = timeline.utterances.find((u) => u.utterance === 1)!;
      const heardUntil = timeline.start_at + ((cut.start_sample + cut.samples) * 1000) / timeline.sample_rate;
      // Inside audio the file counts the device's samples (a starved agent's underrun goes in as silence, as the scheduler
      // skips), so the drift corrections made between its first write and the cut (up to 5 ms a second) stand between its
      // timeline and the relay's clock; and the scheduler corrects an error under 40 ms only at that pace (at load 16 one
      // run's file ended 8 ms past the cut, with 3 ms dropped). What the bound tells apart: a cut at the relay's cut time,
      // not at the end's arrival (a sync delay, 1 s, sooner) nor after ffplay's queue (~160 ms later).
      expect(Math.abs(heardUntil - end.at!), `heard until ${heardUntil.toFixed(2)}, cut at ${end.at}`).toBeLessThan(50);
      const cuts = JSON.parse(await readFile(`${wav}.cuts.json`, 'utf8')) as { cuts: Array<{ utterance: number; reason: string; samples: number }> };
      expect(cuts.cuts).toEqual([expect.objectContaining({ utterance: 1, reason: 'cancelled' })]);
      expect(cuts.cuts[0]!.samples).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
