/**
 * Graceful shutdown on every runtime: SIGTERM during an utterance refuses new work, lets the utterance
 * finish (or cancels it at the drain bound), closes listeners with 1001 and exits 0 in time; an agent
 * then reconnects to the next process on the same address.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SpeakCompleted } from '../../shared/api.ts';
import { secondsOf } from '../../shared/audio-format.ts';
import { parseWav } from '../../shared/wav.ts';
import { spawnAgent, stopAgents } from '../agent/agent-process.ts';
import { connectListener, isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { within } from '../support/relay.ts';
import { freePort, type RelayProcess, RUNTIMES, startRelayProcess } from '../runtimes/relay-process.ts';

const KEY = 'shutdown-admin-key-0123456789';
const SHORT_TEXT = 'The relay is going down. This sentence still ends.';
const LONG_TEXT = Array.from({ length: 10 }, (_, i) => `Sentence ${i + 1} of an announcement far longer than the drain time allows.`).join(' ');
/** What shutdown.ts adds after the drain: the closing handshakes (CLOSE_GRACE_MS), plus process exit on a busy machine. */
const EXIT_SLACK_MS = 1000 + 1500;
/** Two relay processes start and two utterances play in real time: 20-22 s at load 10-17, against the default 30 s. */
const RESTART_TEST_MS = 60_000;

const relays: RelayProcess[] = [];
const listeners: RecordedListener[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'tts-shutdown-'));

afterEach(async () => {
  for (const listener of listeners.splice(0)) listener.close();
  await stopAgents();
  await Promise.all(relays.splice(0).map((relay) => relay.kill()));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function start(runtime: (typeof RUNTIMES)[number], env: Record<string, string>, port?: number): Promise<RelayProcess> {
  const relay = await startRelayProcess(runtime, { RELAY_ADMIN_KEY: KEY, ...env }, port === undefined ? {} : { port });
  relays.push(relay);
  return relay;
}

async function listen(relay: RelayProcess, stream: string): Promise<RecordedListener> {
  const listener = await connectListener(relay.url, stream, { key: KEY });
  listeners.push(listener);
  await listener.waitFor((m) => m.type === 'hello');
  return listener;
}

function speak(relay: RelayProcess, stream: string, text: string, query = ''): Promise<Response> {
  return fetch(new URL(`/v1/streams/${stream}/speak${query}`, relay.url), { method: 'POST', body: text, headers: { authorization: `Bearer ${KEY}` } });
}

function firstAudio(listener: RecordedListener): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (listener.frames.length > 0) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    }),
    10_000,
    'first audio',
  );
}

/** New work while draining: refused with 503 shutting_down, or not even connected once the listener is closed. */
/** Waits until the process has taken the signal (readiness says not accepting, or the port closes): signals arrive asynchronously. */
async function drainingStarted(relay: RelayProcess): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      // Not-ready for the drain, not for the warm-up at start.
      const answer = await fetch(new URL('/readyz', relay.url));
      if (answer.status === 503 && ((await answer.json()) as { accepting: boolean }).accepting === false) return;
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the relay never reported draining');
}

async function refusedWhileDraining(relay: RelayProcess): Promise<string> {
  await drainingStarted(relay);
  try {
    const response = await speak(relay, 'late', 'Too late.');
    const body = (await response.json()) as { error?: { code: string } };
    return `${response.status} ${body.error?.code}`;
  } catch {
    return 'connection refused';
  }
}

describe.each(RUNTIMES)('graceful shutdown under %s', (runtime) => {
  it('SIGTERM mid-utterance: new work is refused, the utterance finishes, listeners get 1001, exit 0 well within the drain', async () => {
    const drainMs = 8000;
    const relay = await start(runtime, { RELAY_DRAIN_MS: String(drainMs) });
    const a = await listen(relay, 'hall');
    const b = await listen(relay, 'hall');
    expect((await speak(relay, 'hall', SHORT_TEXT)).status).toBe(202);
    await firstAudio(a);

    const signalledAt = relay.signal('SIGTERM');
    expect(['503 shutting_down', 'connection refused']).toContain(await refusedWhileDraining(relay));
    for (const listener of [a, b]) {
      expect(await within(listener.waitFor(isEnd), drainMs, 'utterance end')).toMatchObject({ reason: 'done' });
      expect(await within(listener.closed, drainMs + EXIT_SLACK_MS, 'listener close')).toEqual({ code: 1001, reason: 'shutting_down' });
    }
    const exit = await within(relay.exited, drainMs + EXIT_SLACK_MS, 'process exit');
    const exitMs = Math.round(exit.at - signalledAt);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(drainMs);
    expect(relay.logs.find((l) => l.msg === 'shut down')).toMatchObject({ signal: 'SIGTERM', drained: true });
    console.info(`[shutdown] ${relay.runtime}: utterance finished during the drain; exit 0 after ${exitMs} ms (bound ${drainMs} ms + close grace)`);
  });

  it('an utterance longer than the drain time is cancelled at the bound, then listeners get 1001 and the process exits 0', async () => {
    const drainMs = 1500;
    const relay = await start(runtime, { RELAY_DRAIN_MS: String(drainMs) });
    const a = await listen(relay, 'hall');
    const speaking = speak(relay, 'hall', LONG_TEXT, '?wait=true');
    await firstAudio(a);

    const signalledAt = relay.signal('SIGTERM');
    const end = await within(a.waitFor(isEnd), drainMs + EXIT_SLACK_MS, 'utterance end');
    const endMs = performance.now() - signalledAt;
    expect(end.reason).toBe('cancelled');
    expect(endMs).toBeGreaterThanOrEqual(drainMs - 100);
    expect(await within(a.closed, EXIT_SLACK_MS, 'listener close')).toEqual({ code: 1001, reason: 'shutting_down' });
    const waited = await speaking.then(async (response) => ((await response.json()) as SpeakCompleted).reason, () => 'connection closed');
    expect(['cancelled', 'connection closed']).toContain(waited);
    const exit = await within(relay.exited, drainMs + EXIT_SLACK_MS, 'process exit');
    const exitMs = Math.round(exit.at - signalledAt);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(drainMs + EXIT_SLACK_MS);
    expect(relay.logs.find((l) => l.msg === 'shut down')).toMatchObject({ drained: false });
    console.info(`[shutdown] ${relay.runtime}: cancelled at the ${drainMs} ms bound after ${Math.round(endMs)} ms; exit 0 after ${exitMs} ms`);
  });
});

describe('an agent across a restart', () => {
  it('reconnects to the next relay process on the same address and plays what it says', async () => {
    const port = await freePort();
    const first = await start('bun', { RELAY_DRAIN_MS: '5000' }, port);
    const out = join(tmp, 'across-restart.wav');
    const agent = spawnAgent(['listen', 'hall', '--url', first.url, '--token', KEY, '--out', out, '--count', '2']);
    const watcher = await listen(first, 'hall');
    await agent.waitForLine(/connected to hall/, 15_000);

    const spoken = (await (await speak(first, 'hall', SHORT_TEXT)).json()) as { utterance: number };
    await within(watcher.waitFor(isStart), 10_000, 'utterance start');
    first.signal('SIGTERM');
    expect(await within(first.exited, 10_000, 'first relay exit')).toMatchObject({ code: 0 });
    expect(spoken.utterance).toBe(1);

    const second = await start('node', {}, port);
    // The agent reconnects by itself (backoff from 250 ms) and gets a hello from the new process.
    await agent.waitForLines(/connected to hall/, 2, 15_000);
    const result = (await (await speak(second, 'hall', 'Hello again, from the new relay process.', '?wait=true')).json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    expect(await within(agent.exited, 15_000, 'agent exit after two utterances')).toMatchObject({ code: 0 });
    expect(agent.stderr()).toMatch(/reconnecting in .*closed by the relay \(1001: shutting_down\)/);
    const wav = parseWav(new Uint8Array(readFileSync(out)));
    // Both utterances, the one from before the restart and the one after.
    expect(secondsOf(wav.format, wav.data.byteLength)).toBeGreaterThan(result.audio_seconds + 1);
  }, RESTART_TEST_MS);
});
