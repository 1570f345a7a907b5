/**
 * Child process: thousands of listeners that count the audio they receive, so the bench can tell whether
 * every one of them is fed in real time, without the listeners sharing a CPU with the server they measure.
 */
import { AUDIO_HEADER_BYTES } from '../../shared/protocol.ts';
import { readUsage, serveControl } from './control.ts';
import { CountingSocket } from './counting-socket.ts';
import { quantile } from './stats.ts';

interface Mark {
  /** The sockets the window covers: all, or those of one path. */
  sockets: CountingSocket[];
  at: number;
  cpuUs: number;
  audioBytes: number[];
  frames: number;
  declaredBytes: number;
  textFrames: number;
}

const sockets: CountingSocket[] = [];
/** The path each socket was opened on, for windows over one path's sockets. */
const pathOf = new WeakMap<CountingSocket, string>();
let mark: Mark | null = null;

// Each socket reads at most this often: a few reads a second, each taking several frames from the kernel.
// Well inside what a socket's receive buffer holds of the widest format, so no server sees a slow reader.
const READ_INTERVAL_MS = Number(process.env.BENCH_READ_INTERVAL_MS ?? 200);
let paused: CountingSocket[] = [];
setInterval(() => {
  const resuming = paused;
  paused = [];
  for (const socket of resuming) socket.resume();
}, READ_INTERVAL_MS);
const onRead = (socket: CountingSocket) => void paused.push(socket);

// How long the drain before a reading waits for resumed sockets to take in what the kernel holds for them.
const DRAIN_MS = 60;

/** Reads every socket up to now, so a window's edges do not depend on where each socket is in its cycle. */
async function drain(): Promise<void> {
  const resuming = paused;
  paused = [];
  for (const socket of resuming) socket.resume();
  await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
}

const audioBytesOf = (socket: CountingSocket) => socket.binaryBytes - AUDIO_HEADER_BYTES * socket.binaryFrames;

// A handshake slower than this counts as a failed connection: the server (or the machine) is saturated.
const CONNECT_TIMEOUT_MS = 10_000;

function open(url: URL, path: string, headers: Record<string, string>): Promise<CountingSocket> {
  return new Promise((resolve, reject) => {
    const socket = new CountingSocket({ host: url.hostname, port: Number(url.port), path, headers, onRead }, (error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(socket);
    });
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no upgrade within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
  });
}

serveControl({}, {
  /** Opens `count` more listeners on `path`, `concurrency` handshakes at a time. */
  async connect(args) {
    const url = new URL(String(args.url));
    const paths = (args.paths as string[] | undefined) ?? [String(args.path)];
    const count = Number(args.count);
    const headers = (args.headers as Record<string, string> | undefined) ?? {};
    const concurrency = Number(args.concurrency ?? 64);
    const started = performance.now();
    const before = sockets.length;
    let next = 0;
    let failed = 0;
    let firstError: string | null = null;
    const worker = async () => {
      // Once one listener fails to connect the server is past what it sustains: stop adding more.
      while (next < count && failed === 0) {
        const index = next++;
        try {
          const path = paths[index % paths.length]!;
          const socket = await open(url, path, headers);
          pathOf.set(socket, path);
          sockets.push(socket);
        } catch (error) {
          failed++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return { opened: sockets.length - before, failed: count - (sockets.length - before), firstError, total: sockets.length, ms: performance.now() - started };
  },

  /** Starts a measurement window over every listener, or with `path` over those opened on it. */
  async mark(args) {
    await drain();
    const covered = args.path === undefined ? [...sockets] : sockets.filter((socket) => pathOf.get(socket) === args.path);
    mark = {
      sockets: covered,
      at: performance.now(),
      cpuUs: readUsage().cpuUs,
      audioBytes: covered.map(audioBytesOf),
      frames: covered.reduce((n, s) => n + s.binaryFrames, 0),
      declaredBytes: covered.reduce((n, s) => n + s.binaryDeclaredBytes, 0),
      textFrames: covered.reduce((n, s) => n + s.textFrames, 0),
    };
    return { listeners: covered.length };
  },

  /**
   * Ends the window: how much audio each listener got in it, as a multiple of real time
   * (1 = exactly real time), from the listeners' byte counts and the format's bytes per second.
   */
  async measure(args) {
    if (!mark) throw new Error('measure before mark');
    await drain();
    const sockets = mark.sockets;
    const bytesPerSecond = Number(args.bytesPerSecond);
    const elapsedMs = performance.now() - mark.at;
    const rates = sockets.map((socket, i) => (audioBytesOf(socket) - (mark!.audioBytes[i] ?? 0)) / bytesPerSecond / (elapsedMs / 1000));
    rates.sort((a, b) => a - b);
    const frames = sockets.reduce((n, s) => n + s.binaryFrames, 0) - mark.frames;
    const bytes = sockets.reduce((n, s) => n + s.binaryDeclaredBytes, 0) - mark.declaredBytes;
    return {
      listeners: sockets.length,
      closed: sockets.filter((s) => s.closed).length,
      closeCodes: [...new Set(sockets.filter((s) => s.closed).map((s) => s.closeCode))],
      elapsedMs,
      realtime: { min: rates[0] ?? 0, p01: quantile(rates, 0.01), p50: quantile(rates, 0.5), max: rates[rates.length - 1] ?? 0 },
      framesPerListenerSecond: frames / Math.max(1, sockets.length) / (elapsedMs / 1000),
      meanFrameBytes: frames > 0 ? bytes / frames : 0,
      textFrames: sockets.reduce((n, s) => n + s.textFrames, 0) - mark.textFrames,
      swarmCpuShare: (readUsage().cpuUs - mark.cpuUs) / 1000 / elapsedMs,
    };
  },

  /** Per-listener time of the first audio frame (performance.now() in this process), for warm-up checks. */
  firstAudio() {
    return { withAudio: sockets.filter((s) => s.firstBinaryAt > 0).length, listeners: sockets.length };
  },

  /** Closes the most recently opened `count` listeners. */
  closeSome(args) {
    const closing = sockets.splice(Math.max(0, sockets.length - Number(args.count)));
    for (const socket of closing) socket.close();
    if (mark) {
      const open = mark.sockets.map((socket) => !closing.includes(socket));
      mark.sockets = mark.sockets.filter((_, i) => open[i]);
      mark.audioBytes = mark.audioBytes.filter((_, i) => open[i]);
    }
    return { closed: closing.length, total: sockets.length };
  },

  closeAll() {
    for (const socket of sockets) socket.close();
    const count = sockets.length;
    sockets.length = 0;
    mark = null;
    return { closed: count };
  },
});
