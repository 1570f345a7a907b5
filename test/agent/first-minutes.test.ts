/**
 * The agent as a newcomer meets it: the admin key from RELAY_ADMIN_KEY or a file (stdin too) instead of a
 * --token that `ps` shows; --voice checked by the relay; and failures that say what to do next — a listen
 * token used to speak, an http:// URL for a TLS relay, a certificate this machine does not trust.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isEnd } from '../support/listener-client.ts';
import { startTestRelay, TEST_ADMIN_KEY, within, type TestRelay } from '../support/relay.ts';
import { spawnAgent, STACK_FRAME, stopAgents } from './agent-process.ts';

const CERTS = fileURLToPath(new URL('../support/certs/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tts-agent-key-'));
const keyFile = join(dir, 'relay.key');
writeFileSync(keyFile, `${TEST_ADMIN_KEY}\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let relay: TestRelay | undefined;
afterEach(async () => {
  await stopAgents();
  await relay?.close();
  relay = undefined;
});

async function finished(agent: ReturnType<typeof spawnAgent>, what: string) {
  return (await within(agent.exited, 40_000, what)).code;
}

describe('tts-agent credentials', { timeout: 90_000 }, () => {
  it('takes the admin key from RELAY_ADMIN_KEY, as on the relay host, for say and listen', async () => {
    relay = await startTestRelay();
    const env = { TTS_RELAY_URL: relay.url, RELAY_ADMIN_KEY: TEST_ADMIN_KEY };
    const listener = spawnAgent(['listen', 'kitchen', '--player', 'stdout', '--once'], env);
    await listener.waitForLines(/connected to kitchen/, 1);
    const say = spawnAgent(['say', 'kitchen', 'Hello from the environment.'], env);
    expect(await finished(say, 'say')).toBe(0);
    expect(await finished(listener, 'listen')).toBe(0);
    expect(listener.stdout().byteLength).toBeGreaterThan(10_000);
  });

  it('reads the key from --token-file, a file or stdin, so it never shows in ps', async () => {
    relay = await startTestRelay();
    const env = { TTS_RELAY_URL: relay.url };
    const listener = spawnAgent(['listen', 'kitchen', '--player', 'stdout', '--once', '--token-file', '-'], env);
    listener.child.stdin.end(`${TEST_ADMIN_KEY}\n`);
    await listener.waitForLines(/connected to kitchen/, 1);
    const say = spawnAgent(['say', 'kitchen', 'Hello from a key file.', '--token-file', keyFile], env);
    expect(await finished(say, 'say')).toBe(0);
    expect(await finished(listener, 'listen')).toBe(0);
    const token = spawnAgent(['token', 'kitchen', '--token-file', keyFile], env);
    expect(await finished(token, 'token')).toBe(0);
    expect(token.stdout().toString()).toMatch(/^eyJ/);
  });

  it('tells a listen token used to speak that it lacks the speak action, and how to get one', async () => {
    relay = await startTestRelay();
    const minted = await relay.request('/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ streams: ['kitchen'], actions: ['listen'] }) });
    const { token } = (await minted.json()) as { token: string };
    const say = spawnAgent(['say', 'kitchen', 'Hello.'], { TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: token });
    expect(await finished(say, 'say')).toBe(1);
    expect(say.stderr()).toMatch(/^error forbidden: This token may not speak: its actions are listen\..*\nhint: mint a token with that action: tts-agent token <stream> --actions speak/);
  });
});

describe('tts-agent say --voice', { timeout: 60_000 }, () => {
  it('speaks with a listed voice, and gets the nearest ones named for an unknown one', async () => {
    relay = await startTestRelay();
    const env = { TTS_RELAY_URL: relay.url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY };
    const listener = await relay.listen('kitchen');
    const known = spawnAgent(['say', 'kitchen', 'Tea is ready.', '--voice', 'en-gb', '--wait'], env);
    expect(await finished(known, 'say')).toBe(0);
    await listener.waitFor(isEnd);
    const unknown = spawnAgent(['say', 'kitchen', 'Tea is ready.', '--voice', 'en-uk'], env);
    expect(await finished(unknown, 'say')).toBe(1);
    expect(unknown.stderr()).toMatch(/^error unknown_voice: No voice "en-uk" on this relay's provider\. Nearest: .*en-gb \(English \(Great Britain\)\)/);
  });
});

describe('tts-agent against a TLS relay', { timeout: 60_000 }, () => {
  const tls = { TLS_CERT_FILE: join(CERTS, 'cert.pem'), TLS_KEY_FILE: join(CERTS, 'key.pem') };

  it('says to use https:// when given http:// for a relay that serves TLS, and stops', async () => {
    relay = await startTestRelay(tls);
    const plain = relay.url.replace('https://', 'http://');
    for (const args of [['say', 'kitchen', 'Hello.'], ['listen', 'kitchen', '--player', 'stdout']]) {
      const agent = spawnAgent(args, { TTS_RELAY_URL: plain, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
      expect(await finished(agent, args[0]!)).toBe(1);
      expect(agent.stderr()).toContain(`serves HTTPS, not plain HTTP: use --url ${relay.url}`);
      expect(agent.stderr()).not.toMatch(STACK_FRAME);
    }
  });

  it('names an untrusted certificate and NODE_EXTRA_CA_CERTS, and works once the certificate is trusted', async () => {
    relay = await startTestRelay(tls);
    const url = relay.url.replace('127.0.0.1', 'localhost');
    for (const args of [['say', 'kitchen', 'Hello.'], ['listen', 'kitchen', '--player', 'stdout']]) {
      const agent = spawnAgent(args, { TTS_RELAY_URL: url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY });
      expect(await finished(agent, args[0]!)).toBe(1);
      expect(agent.stderr()).toMatch(/presents a TLS certificate this machine does not trust \(\w+: .*\): .*NODE_EXTRA_CA_CERTS=/);
    }
    const trusted = spawnAgent(['say', 'kitchen', 'Hello.'], { TTS_RELAY_URL: url, TTS_RELAY_TOKEN: TEST_ADMIN_KEY, NODE_EXTRA_CA_CERTS: join(CERTS, 'cert.pem') });
    expect(await finished(trusted, 'say')).toBe(0);
  });
});

describe('the relay on a bad stream name', () => {
  it('says which character broke the rule', async () => {
    relay = await startTestRelay();
    const response = await relay.request('/v1/streams/kit%20chen/speak', { method: 'POST', body: 'Hi.' });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error).toMatchObject({ code: 'invalid_stream_name' });
    expect(error.message).toMatch(/^Not a stream name: character 4, " ", is not one of A-Z a-z 0-9 \. _ - \/\. Stream names are/);
  });
});
