import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isEnd, isStart, connectListener, type RecordedListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, within, type TestRelay } from '../support/relay.ts';
import { spawnAgent, STACK_FRAME, stopAgents } from './agent-process.ts';

// Generous per test; the suite's own config may not be loaded (`npx vitest run test/agent`).
describe('tts-agent say', { timeout: 30_000 }, () => {
  let relay: TestRelay;
  let listener: RecordedListener | undefined;

  beforeEach(async () => {
    relay = await startTestRelay();
  });

  afterEach(async () => {
    listener?.close();
    listener = undefined;
    await stopAgents();
    await relay.close();
  });

  const env = (): Record<string, string> => ({ TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });

  it('streams stdin with "-", so speech starts before stdin ends', async () => {
    listener = await connectListener(relay.url, 'pipe', { key: TEST_ADMIN_KEY });
    const agent = spawnAgent(['say', 'pipe', '-'], env());

    agent.child.stdin.write('Spoken while typing. ');
    const start = await listener.waitFor(isStart, 10_000);
    await within(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (listener!.frames.some((frame) => frame.utterance === start.utterance)) resolve(clearInterval(poll));
        }, 20);
      }),
      10_000,
      'first audio',
    );
    expect(agent.child.exitCode).toBeNull();

    agent.child.stdin.end('The end.');
    const { code } = await within(agent.exited, 15_000, 'say exit');
    expect(code).toBe(0);
    expect(agent.stdout().toString()).toBe(`${start.utterance_id}\n`);
    const end = await listener.waitFor(isEnd, 15_000);
    expect(end).toMatchObject({ utterance_id: start.utterance_id, reason: 'done' });
  });

  it('prints the utterance id, and with --wait the figures once the audio is complete', async () => {
    const agent = spawnAgent(['say', 'figures', 'Count', 'these', 'words.', '--wait'], env());
    const { code } = await within(agent.exited, 15_000, 'say exit');

    expect(code).toBe(0);
    const [id, figures, rest] = agent.stdout().toString().split('\n');
    expect(id).toMatch(/^utt_\w+$/);
    expect(figures).toMatch(/^done: \d+\.\d\d s of audio from 18 characters; first audio after \d+ ms, complete after \d+ ms$/);
    expect(rest).toBe('');
  });

  it('prints relay errors as "error <code>: <message>" and exits 1', async () => {
    const agent = spawnAgent(['say', 'locked', 'Nobody hears this.'], { TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: 'wrong-key-wrong-key' });
    const { code } = await within(agent.exited, 10_000, 'say exit');

    expect(code).toBe(1);
    expect(agent.stderr()).toMatch(/^error unauthorized: .+\nhint: the relay does not know this key or token: check --token/);
    expect(agent.stderr()).not.toMatch(STACK_FRAME);
    expect(agent.stdout().toString()).toBe('');
  });

  it('says where the relay should be when nothing answers there', async () => {
    const closed = relay.url;
    await relay.close();
    const agent = spawnAgent(['say', 'nowhere', 'Hello?'], { TTS_RELAY_URL: closed, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
    const { code } = await within(agent.exited, 10_000, 'say exit');

    expect(code).toBe(1);
    expect(agent.stderr()).toMatch(/nothing is listening at http:\/\/127\.0\.0\.1:\d+ \(connection refused\): start the relay with npm start, or pass --url/);
  });
});
