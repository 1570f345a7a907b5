import { afterEach, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { within } from '../support/relay.ts';
import { spawnAgent, STACK_FRAME, stopAgents } from './agent-process.ts';

// Generous per test; the suite's own config may not be loaded (`npx vitest run test/agent`).
describe('tts-agent command line', { timeout: 90_000 }, () => {
  afterEach(stopAgents);

  it('explains itself with --help, on stdout, exit 0', async () => {
    const top = spawnAgent(['--help']);
    const listen = spawnAgent(['listen', '--help']);
    const say = spawnAgent(['say', '-h']);
    const codes = await within(Promise.all([top.exited, listen.exited, say.exited]), 10_000, 'help');

    expect(codes.map((c) => c.code)).toEqual([0, 0, 0]);
    expect(top.stdout().toString()).toMatch(/tts-agent listen <stream>[\s\S]*tts-agent say <stream> <text \| ->[\s\S]*TTS_RELAY_URL[\s\S]*Exit codes/);
    const listenHelp = listen.stdout().toString();
    for (const option of ['--url', '--token', '--out', '--player', '--encoding', '--sample-rate', '--once', '--count', 'FFPLAY_PATH', 'cuts.json']) {
      expect(listenHelp).toContain(option);
    }
    expect(say.stdout().toString()).toMatch(/Usage: tts-agent say <stream> <text \| ->[\s\S]*--voice[\s\S]*--wait[\s\S]*error <code>: <message>/);
    // The default format is the relay's own: 22050 Hz on the embedded engine, not a fixed 44100.
    expect(listenHelp).toMatch(/--sample-rate R .*\(default: the relay's own rate,\s+22050 on the embedded engine/);
    for (const help of [top, listen, say]) expect(help.stdout().toString()).toMatch(/--token-file F .*(\n.*)?does not show in ps/);
  });

  it('prints its version with --version', async () => {
    const agent = spawnAgent(['--version']);
    expect((await within(agent.exited, 10_000, 'version')).code).toBe(0);
    expect(agent.stdout().toString()).toBe(`tts-agent ${packageJson.version}\n`);
  });

  it('rejects bad arguments with one line, a pointer to --help and exit code 2', async () => {
    await expectUsageErrors([
      [[], /Usage:/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['listen'], /missing stream name/],
      [['listen', 'kitchen', '--bogus'], /unknown option --bogus for "tts-agent listen"\n/],
      [['listen', 'kitchen', '--encoding', 'mp3'], /--encoding must be one of pcm_f32le, pcm_s16le, pcm_mulaw, pcm_alaw; got "mp3"/],
      [['listen', 'kitchen', '--sample-rate', '12345'], /--sample-rate must be one of/],
      [['listen', 'kitchen', '--player', 'vlc'], /--player must be one of ffplay, stdout, none/],
      [['listen', 'kitchen', '--count', '0'], /--count must be a whole number of at least 1/],
      [['listen', 'kitchen', '--once', '--count', '3'], /--once and --count disagree/],
      [['listen', '../etc'], /invalid stream name/],
      [['listen', 'kitchen', '--player', 'none'], /would discard the audio/],
      [['listen', 'kitchen', '--url', 'ftp://relay'], /invalid relay URL/],
      [['say', 'kitchen'], /say needs the text to speak/],
      [['listen', 'kitchen', '--sync', 'off', '--volume', '0.5'], /--volume acts on the in-step playout: drop --sync off/],
      [['listen', 'kitchen', '--sync', 'off', '--chime', 'a.wav', '--latency-ms', '100'], /--latency-ms, --chime act on the in-step playout: drop --sync off/],
      [['listen', 'kitchen', '--player', 'stdout', '--volume=-6dB'], /--volume acts on what is played: --player stdout writes the samples as sent/],
    ]);
  });

  it('says what to type instead: the nearest option, the missing value, the character a stream name may not have', async () => {
    await expectUsageErrors([
      [['say', 'kitchen', 'Hi.', '--voic', 'en-gb'], /unknown option --voic for "tts-agent say" \(did you mean --voice\?\)/],
      [['listen', 'kitchen', '--url'], /--url needs a value, e\.g\. --url http:\/\/localhost:8787/],
      [['say', 'kit chen', 'Hi.'], /invalid stream name "kit chen": character 4, " ", is not one of A-Z a-z 0-9 \. _ - \//],
      [['say', 'kitchen', '-', '--token-file', '-'], /stdin cannot carry both the text and the token/],
      [['listen', 'kitchen', '--token', 'x', '--token-file', 'f'], /pass --token or --token-file, not both/],
      [['listen', 'kitchen', '--token-file', '/nonexistent/key'], /--token-file: cannot read \/nonexistent\/key \(ENOENT\)/],
    ]);
  });
});

/** Runs the command lines a few at a time; each must exit 2 with its message, no stack, and a pointer to --help. */
async function expectUsageErrors(cases: Array<[string[], RegExp]>): Promise<void> {
  // Every agent is a Node process loading TypeScript: a dozen at once on a busy two-core machine take long.
  for (let start = 0; start < cases.length; start += 4) {
    const batch = cases.slice(start, start + 4);
    const agents = batch.map(([args]) => spawnAgent(args));
    const results = await within(Promise.all(agents.map((agent) => agent.exited)), 20_000, 'usage errors');
    batch.forEach(([args, message], i) => {
      const stderr = agents[i]!.stderr();
      expect({ args, code: results[i]!.code }).toEqual({ args, code: 2 });
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(STACK_FRAME);
      if (args.length > 0) expect(stderr).toMatch(/Run "tts-agent( listen| say)? --help" for usage\.\n$/);
    });
  }
}
