import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent, STACK_FRAME, stopAgents } from '../agent/agent-process.ts';
import { connectListener } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';

let relay: TestRelay;

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await stopAgents();
  await relay?.close();
});

describe('tts-agent token', () => {
  it('mints a token with the admin key and prints it alone on stdout; the token works where it should', async () => {
    const agent = spawnAgent(['token', 'kitchen', 'home/*', '--actions', 'listen,speak', '--ttl', '2h', '--label', 'hall tablet', '--url', relay.url], { TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
    const { code } = await within(agent.exited, 15_000, 'tts-agent token');
    expect({ code, stderr: agent.stderr() }).toEqual({ code: 0, stderr: expect.stringMatching(/^token tok_\w+: listen, speak on kitchen, home\/\*; expires \d{4}-\d\d-\d\dT/) });
    const token = agent.stdout().toString().trim();
    expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);

    expect((await relay.speak('home/hall', 'Minted on the command line.', { key: token })).status).toBe(202);
    expect((await relay.speak('garage', 'Not covered.', { key: token })).status).toBe(403);
    expect((await relay.request('/v1/streams/kitchen/cancel', { method: 'POST', key: token })).status).toBe(403);
    const listener = await connectListener(relay.url, 'kitchen', { query: { token } });
    expect((await listener.waitFor((m) => m.type === 'hello')).type).toBe('hello');
    listener.close();
  });

  it('prints the whole answer with --json, and takes the admin key from RELAY_ADMIN_KEY', async () => {
    const agent = spawnAgent(['token', '*', '--actions', 'cancel', '--rate', '2', '--json', '--url', relay.url], { RELAY_ADMIN_KEY: TEST_ADMIN_KEY });
    expect((await within(agent.exited, 15_000, 'tts-agent token --json')).code).toBe(0);
    const answer = JSON.parse(agent.stdout().toString()) as Record<string, unknown>;
    expect(answer).toMatchObject({ streams: ['*'], actions: ['cancel'], expires_in: 900, rate: 2, burst: 2 });
  });

  it('refuses bad arguments with exit 2, and a relay refusal with its error code and exit 1', async () => {
    const cases: Array<[string[], Record<string, string>, number, RegExp]> = [
      [['token'], { TTS_RELAY_TOKEN: TEST_ADMIN_KEY }, 2, /name at least one stream/],
      [['token', 'kitchen', '--actions', 'admin'], { TTS_RELAY_TOKEN: TEST_ADMIN_KEY }, 2, /--actions takes speak, listen, cancel/],
      [['token', 'kitchen', '--ttl', '5 minutes'], { TTS_RELAY_TOKEN: TEST_ADMIN_KEY }, 2, /--ttl takes seconds or a number with s, m, h or d/],
      [['token', '../etc'], { TTS_RELAY_TOKEN: TEST_ADMIN_KEY }, 2, /invalid stream "\.\.\/etc"/],
      [['token', 'kitchen'], {}, 2, /needs the admin key/],
      [['token', 'kitchen', '--ttl', '30d', '--url', relay.url], { TTS_RELAY_TOKEN: TEST_ADMIN_KEY }, 1, /error bad_request: expires_in may be at most 86400 seconds/],
      [['token', 'kitchen', '--url', relay.url], { TTS_RELAY_TOKEN: 'not-the-admin-key-at-all' }, 1, /error unauthorized: [^\n]*\nhint: minting needs the admin key/],
    ];
    const agents = cases.map(([args, env]) => spawnAgent(args, env));
    const results = await within(Promise.all(agents.map((a) => a.exited)), 20_000, 'token usage errors');
    cases.forEach(([args, , exitCode, message], i) => {
      const stderr = agents[i]!.stderr();
      expect({ args, code: results[i]!.code }).toEqual({ args, code: exitCode });
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(STACK_FRAME);
      expect(stderr).not.toContain(TEST_ADMIN_KEY);
    });
  });

  it('explains itself with --help', async () => {
    const agent = spawnAgent(['token', '--help']);
    expect((await within(agent.exited, 10_000, 'help')).code).toBe(0);
    expect(agent.stdout().toString()).toMatch(/Usage: tts-agent token <stream>\.\.\.[\s\S]*--actions[\s\S]*--ttl[\s\S]*--rate[\s\S]*--burst/);
  });
});
