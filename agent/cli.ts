/** The `tts-agent` command line: parses arguments, runs `listen` or `say`, maps failures to one line and an exit code. */
import { Readable } from 'node:stream';
import type { ParseArgsConfig } from 'node:util';
import packageJson from '../package.json' with { type: 'json' };
import type { SpeakCompleted } from '../shared/api.ts';
import { ENCODINGS, isEncoding, isSampleRate, SAMPLE_RATES, type Encoding, type SampleRate } from '../shared/audio-format.ts';
import { streamNameProblem } from '../shared/protocol.ts';
import { AgentError, EXIT_FAILURE, EXIT_USAGE, usageError } from './agent-error.ts';
import { parseCommandArgs } from './args.ts';
import type { ClockEstimate } from './clock-sync.ts';
import { PLAYERS, runListen, type PlayerChoice } from './listen-command.ts';
import { parseVolume } from './playout/level.ts';
import type { PlayoutCounts } from './playout/scheduler.ts';
import { DEFAULT_RELAY_URL, endpointFrom } from './relay-endpoint.ts';
import { describeCompletion, say } from './say.ts';
import { StatusLine } from './status-line.ts';
import { tokenCommand } from './token.ts';

/** If something still holds the event loop after a command finished, exit anyway rather than hang. */
const EXIT_GRACE_MS = 2000;

const USAGE = `tts-agent: listen to a tts-relay stream and play it, or speak into one.

Usage:
  tts-agent listen <stream> [options]    play a stream through ffplay, record it, or pipe it
  tts-agent say <stream> <text | ->      speak text into a stream ("-" streams stdin)
  tts-agent token <stream>... [options]  mint a scoped, expiring token (needs the admin key)
  tts-agent <command> --help             options of one command
  tts-agent --version                    the agent's version

Connection (every command):
  --url URL          relay URL (env TTS_RELAY_URL, default ${DEFAULT_RELAY_URL})
  --token T          admin key or stream token (env TTS_RELAY_TOKEN, else RELAY_ADMIN_KEY)
  --token-file F     read the key or token from file F, or "-" for stdin: unlike --token,
                     it does not show in ps

Exit codes: 0 done, 1 failed, 2 bad arguments.`;

const CONNECTION_HELP = `  --url URL            relay URL (env TTS_RELAY_URL, default ${DEFAULT_RELAY_URL})
  --token T            admin key or stream token (env TTS_RELAY_TOKEN, else RELAY_ADMIN_KEY)
  --token-file F       read it from file F ("-": stdin) instead, so it does not show in ps`;

const LISTEN_USAGE = `Usage: tts-agent listen <stream> [options]

Plays every utterance spoken into <stream>, reconnecting (250 ms doubling to 10 s, jittered)
whenever the link drops or heartbeats stop. Status goes to stderr.

Options:
${CONNECTION_HELP}
  --player P           ffplay | stdout | none (default ffplay; none when --out is given)
                       stdout writes raw samples in the stream's format, no header
  --out FILE.wav       record what is heard to a WAV file (in step: on the heard timeline, from the
                       first audio, silence in the gaps, late audio absent; FILE.wav.timeline.json
                       says the relay time its first sample is heard at); until exit its header says "length unknown" (players read
                       to the end, so even a crash leaves it playable), on exit the sizes are patched.
                       Utterances cut short (cancelled or failed) are listed, with the sample where
                       the cut falls, in FILE.wav.cuts.json (written only when something was cut)
  --encoding E         ${ENCODINGS.join(' | ')} (default: the relay's own format,
                       pcm_f32le on the embedded engine; Cartesia: CARTESIA_ENCODING)
  --sample-rate R      ${SAMPLE_RATES.join(' | ')} (default: the relay's own rate,
                       22050 on the embedded engine; Cartesia: CARTESIA_SAMPLE_RATE, 44100)
  --sync on|off        on (default): play every sample at its presentation time on the relay's
                       clock (estimated continuously, shown in the status line), through one
                       long-lived ffplay, so every room is in step; audio that arrives too late
                       is dropped and counted. off: play whatever arrives, at once (lowest latency)
  --latency-ms N       in step: this speaker is heard N ms after it plays (0-5000, default 0), so
                       play N ms sooner: 150 for a Bluetooth speaker that lags 150 ms behind a wired
                       one. The relay's sync delay must cover it (RELAY_SYNC_DELAY_MS)
  --volume V           level: a factor (0.5) or decibels (--volume=-6dB), 0 to 4 (+12 dB); default 1
  --chime FILE.wav     played before an utterance that follows 5 s of quiet, ending as it begins
                       (mono WAV, any of the relay's rates; wakes a speaker from standby)
  --preroll-ms N       how much of the chime to play (default all of it)
                       (these four shape the in-step playout: refused with --sync off or --player stdout)
  --json               print each relay-clock estimate as a JSON line
                       {"type":"clock","offset_ms","uncertainty_ms","rtt_ms","samples","used"}
                       and, in step, at each utterance end {"type":"playout","utterance",
                       "late_samples","inserted_samples","dropped_samples","skips","flushes"}
                       on stdout (on stderr with --player stdout)
  --once               exit 0 after the first utterance has ended and played
  --count N            exit 0 after N utterances have ended and played
  -h, --help           this help

Environment:
  FFPLAY_PATH          ffplay binary to run (default: ffplay on PATH)
  SDL_AUDIODRIVER      passed to ffplay; "dummy" plays silently (CI)

Examples:
  tts-agent listen kitchen
  tts-agent listen kitchen --out kitchen.wav --once
  tts-agent listen kitchen --player stdout --encoding pcm_s16le --sample-rate 16000 | sox -t raw -r 16000 -e signed -b 16 -c 1 - out.flac`;

const SAY_USAGE = `Usage: tts-agent say <stream> <text | -> [options]

Speaks text into <stream> and prints the utterance id. With "-", stdin is sent as a chunked
body as it is read, so speech starts before stdin ends (pipe an LLM into it).

Options:
${CONNECTION_HELP}
  --voice V            speak with voice V, an id from GET /v1/voices (default: the relay's,
                       TTS_VOICE); the relay refuses an unknown one, naming the nearest
  --wait               return when the audio is complete and print its figures;
                       exit 1 unless the utterance ended "done"
  -h, --help           this help

Errors from the relay are printed as "error <code>: <message>" with exit code 1.

Examples:
  tts-agent say kitchen "Dinner is ready."
  tts-agent say kitchen "Tea is ready." --voice en-gb
  llm "write a haiku" | tts-agent say kitchen - --wait`;

const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const LISTEN_OPTIONS = {
  ...CONNECTION_OPTIONS,
  out: { type: 'string' },
  player: { type: 'string' },
  encoding: { type: 'string' },
  'sample-rate': { type: 'string' },
  once: { type: 'boolean' },
  count: { type: 'string' },
  sync: { type: 'string' },
  json: { type: 'boolean' },
  'latency-ms': { type: 'string' },
  volume: { type: 'string' },
  chime: { type: 'string' },
  'preroll-ms': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const SAY_OPTIONS = { ...CONNECTION_OPTIONS, wait: { type: 'boolean' }, voice: { type: 'string' } } as const satisfies ParseArgsConfig['options'];

interface IO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function main(argv: string[], io: IO = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      io.stderr.write(`${USAGE}\n`);
      return EXIT_USAGE;
    }
    if (command === '-h' || command === '--help' || command === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command === '--version' || command === '-V' || command === 'version') {
      io.stdout.write(`tts-agent ${packageJson.version}\n`);
      return 0;
    }
    if (command === 'listen') return await listenCommand(rest, io);
    if (command === 'say') return await sayCommand(rest, io);
    if (command === 'token') return await tokenCommand(rest, io);
    throw usageError(`unknown command "${command}"`);
  } catch (error) {
    return report(error, io, command === 'listen' || command === 'say' || command === 'token' ? `tts-agent ${command} --help` : 'tts-agent --help');
  }
}

async function listenCommand(args: string[], io: IO): Promise<number> {
  const { values, positionals } = parseCommandArgs('listen', args, LISTEN_OPTIONS);
  if (values.help) {
    io.stdout.write(`${LISTEN_USAGE}\n`);
    return 0;
  }
  const stream = streamArgument(positionals, 1, 'listen <stream>');
  const endpoint = await endpointFrom(values, io.env);
  const encoding = parseEncoding(values.encoding);
  const sampleRate = parseSampleRate(values['sample-rate']);
  const player = parsePlayer(values.player, values.out);
  if (values.out === '') throw usageError('--out needs a file name');
  const count = parseCount(values.count, values.once);
  if (player === 'none' && values.out === undefined) throw usageError('--player none without --out would discard the audio; add --out FILE.wav');
  if (values.sync !== undefined && values.sync !== 'on' && values.sync !== 'off') throw usageError(`--sync is on or off; got "${values.sync}"`);
  const jsonOut = player === 'stdout' ? io.stderr : io.stdout;

  const status = new StatusLine(io.stderr);
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(EXIT_FAILURE);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runListen({
      stream,
      endpoint,
      encoding,
      sampleRate,
      out: values.out,
      player,
      count,
      ffplayPath: io.env.FFPLAY_PATH || undefined,
      env: io.env,
      status,
      stdout: io.stdout,
      signal: stop.signal,
      sync: values.sync !== 'off',
      ...playoutOptions(values, player),
      ...(values.json ? jsonHandlers(jsonOut) : {}),
    });
    const plural = summary.utterances === 1 ? '' : 's';
    const saved = values.out === undefined || summary.format === null ? '' : `; saved ${values.out}`;
    status.note(`stopped: ${summary.utterances} utterance${plural}, ${summary.audioSeconds.toFixed(2)} s of audio${saved}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

type PlayoutFlags = { 'latency-ms'?: string; volume?: string; chime?: string; 'preroll-ms'?: string; sync?: string };

/** --latency-ms, --volume, --chime, --preroll-ms: they shape the in-step playout, so without it they are refused. */
function playoutOptions(values: PlayoutFlags, player: string) {
  const given = (['latency-ms', 'volume', 'chime', 'preroll-ms'] as const).filter((flag) => values[flag] !== undefined).map((flag) => `--${flag}`);
  const act = `${given.join(', ')} ${given.length === 1 ? 'acts' : 'act'} on`;
  if (given.length > 0 && values.sync === 'off') throw usageError(`${act} the in-step playout: drop --sync off`);
  if (given.length > 0 && player === 'stdout') throw usageError(`${act} what is played: --player stdout writes the samples as sent`);
  const latencyMs = parseMs('--latency-ms', values['latency-ms']);
  const prerollMs = parseMs('--preroll-ms', values['preroll-ms']);
  if (values.chime === '') throw usageError('--chime needs a WAV file');
  if (prerollMs !== undefined && values.chime === undefined) throw usageError('--preroll-ms sets how much of the chime plays: add --chime FILE.wav');
  return {
    ...(latencyMs !== undefined ? { latencyMs } : {}),
    ...(prerollMs !== undefined ? { prerollMs } : {}),
    ...(values.volume !== undefined ? { gain: parseVolume(values.volume) } : {}),
    ...(values.chime !== undefined ? { chime: values.chime } : {}),
  };
}

function parseMs(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || ms > 5000) throw usageError(`${flag} is milliseconds from 0 to 5000; got "${value}"`);
  return ms;
}

function jsonHandlers(out: NodeJS.WritableStream) {
  return {
    onClock: (estimate: ClockEstimate) => out.write(`${JSON.stringify(clockJSON(estimate))}\n`),
    onPlayout: (utterance: number, counts: PlayoutCounts) => out.write(`${JSON.stringify({ type: 'playout', utterance, ...counts })}\n`),
  };
}

function clockJSON(estimate: ClockEstimate) {
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    type: 'clock',
    offset_ms: round(estimate.offsetMs),
    uncertainty_ms: round(estimate.uncertaintyMs),
    rtt_ms: round(estimate.rttMs),
    samples: estimate.samples,
    used: estimate.used,
  };
}

async function sayCommand(args: string[], io: IO): Promise<number> {
  const { values, positionals } = parseCommandArgs('say', args, SAY_OPTIONS);
  if (values.help) {
    io.stdout.write(`${SAY_USAGE}\n`);
    return 0;
  }
  const stream = streamArgument(positionals, 2, 'say <stream> <text | ->');
  const words = positionals.slice(1);
  if (words.length === 0) throw usageError('say needs the text to speak, or "-" to read stdin');
  const fromStdin = words.length === 1 && words[0] === '-';
  if (fromStdin && values['token-file'] === '-') throw usageError('stdin cannot carry both the text and the token: give --token-file a file');
  if (values.voice === '') throw usageError('--voice needs a voice id, e.g. --voice en-gb (GET /v1/voices lists them)');
  const text = fromStdin ? (Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>) : words.join(' ');
  if (typeof text === 'string' && text.trim() === '') throw usageError('the text to speak is empty');
  const endpoint = await endpointFrom(values, io.env);

  const result = await say({ endpoint, stream, text, wait: values.wait === true, ...(values.voice !== undefined ? { voice: values.voice } : {}) });
  io.stdout.write(`${result.utterance_id}\n`);
  if (!values.wait) return 0;
  const completed = result as SpeakCompleted;
  if (completed.reason === 'error' && completed.error !== undefined) {
    io.stderr.write(`error ${completed.error.code}: ${completed.error.message}\n`);
  }
  io.stdout.write(`${describeCompletion(completed)}\n`);
  return completed.reason === 'done' ? 0 : EXIT_FAILURE;
}

function streamArgument(positionals: string[], max: number, shape: string): string {
  const stream = positionals[0];
  if (stream === undefined) throw usageError(`missing stream name: tts-agent ${shape}`);
  const problem = streamNameProblem(stream);
  if (problem !== null) {
    throw usageError(`invalid stream name "${stream}": ${problem} (names are 1-128 characters of A-Z a-z 0-9 . _ - /, not starting with / or a dot)`);
  }
  if (max === 1 && positionals.length > 1) throw usageError(`unexpected argument "${positionals[1]}": tts-agent ${shape}`);
  return stream;
}

function parseEncoding(value: string | undefined): Encoding | undefined {
  if (value === undefined) return undefined;
  if (!isEncoding(value)) throw usageError(`--encoding must be one of ${ENCODINGS.join(', ')}; got "${value}"`);
  return value;
}

function parseSampleRate(value: string | undefined): SampleRate | undefined {
  if (value === undefined) return undefined;
  const rate = Number(value);
  if (!isSampleRate(rate)) throw usageError(`--sample-rate must be one of ${SAMPLE_RATES.join(', ')}; got "${value}"`);
  return rate;
}

function parsePlayer(value: string | undefined, out: string | undefined): PlayerChoice {
  if (value === undefined) return out === undefined ? 'ffplay' : 'none';
  if (!(PLAYERS as readonly string[]).includes(value)) throw usageError(`--player must be one of ${PLAYERS.join(', ')}; got "${value}"`);
  return value as PlayerChoice;
}

function parseCount(value: string | undefined, once: boolean | undefined): number | undefined {
  if (value === undefined) return once ? 1 : undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw usageError(`--count must be a whole number of at least 1; got "${value}"`);
  if (once && count !== 1) throw usageError('--once and --count disagree; pass one of them');
  return count;
}

function report(error: unknown, io: IO, help: string): number {
  if (error instanceof AgentError) {
    // The relay's own errors keep their documented shape, `error <code>: <message>`, unprefixed.
    io.stderr.write(error.code === 'relay_error' ? `${error.message}\n` : `tts-agent: ${error.message}\n`);
    if (error.exitCode === EXIT_USAGE) io.stderr.write(`Run "${help}" for usage.\n`);
    return error.exitCode;
  }
  // A bug, not a user error: one line still, and the stack only on request.
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`tts-agent: unexpected failure: ${message}\n`);
  if (io.env.TTS_AGENT_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  return EXIT_FAILURE;
}

/** The process entry used by bin.mjs: runs argv, then exits with the command's code. */
export async function run(): Promise<void> {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}
