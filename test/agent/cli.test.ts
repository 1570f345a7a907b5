import { afterEach, describe, expect, it } from 'vitest';
import { within } from '../support/relay.ts';
import { spawnAgent, STACK_FRAME, stopAgents } from './agent-process.ts';

// Generous per test; the suite's own config may not be loaded (`npx vitest run test/agent`).
describe('tts-agent command line', { timeout: 30_000 }, () => {
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
    expect(say.stdout().toString()).toMatch(/Usage: tts-agent say <stream> <text \| ->[\s\S]*--wait[\s\S]*error <code>: <message>/);
  });

  it('rejects bad arguments with one line, a pointer to --help and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage:/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['listen'], /missing stream name/],
      [['listen', 'kitchen', '--bogus'], /Unknown option '--bogus'/],
      [['listen', 'kitchen', '--encoding', 'mp3'], /--encoding must be one of pcm_f32le, pcm_s16le, pcm_mulaw, pcm_alaw; got "mp3"/],
      [['listen', 'kitchen', '--sample-rate', '12345'], /--sample-rate must be one of/],
      [['listen', 'kitchen', '--player', 'vlc'], /--player must be one of ffplay, stdout, none/],
      [['listen', 'kitchen', '--count', '0'], /--count must be a whole number of at least 1/],
      [['listen', 'kitchen', '--once', '--count', '3'], /--once and --count disagree/],
      [['listen', '../etc'], /invalid stream name/],
      [['listen', 'kitchen', '--player', 'none'], /would discard the audio/],
      [['listen', 'kitchen', '--url', 'ftp://relay'], /invalid relay URL/],
      [['say', 'kitchen'], /say needs the text to speak/],
    ];
    const agents = cases.map(([args]) => spawnAgent(args));
    const results = await within(Promise.all(agents.map((agent) => agent.exited)), 15_000, 'usage errors');

    cases.forEach(([args, message], i) => {
      const stderr = agents[i]!.stderr();
      expect({ args, code: results[i]!.code }).toEqual({ args, code: 2 });
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(STACK_FRAME);
      if (args.length > 0) expect(stderr).toMatch(/Run "tts-agent( listen| say)? --help" for usage\.\n$/);
    });
  });
});
