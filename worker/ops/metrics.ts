/** The relay's Prometheus metrics: counters and a histogram fed by a few hooks, gauges read at scrape time, text exposition. */
import type { EndReason } from '../../shared/protocol.ts';

/** Seconds from a speak request's arrival to the provider's first audio. */
const FIRST_AUDIO_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

/**
 * Seconds from a sample's place on the stream's playout timeline to a listener reporting it played (it may
 * be below zero for a listener that plays audio the moment it arrives, ahead of the timeline).
 */
const HEARD_LATENCY_BUCKETS = [-0.5, -0.1, 0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5];

type Labels = Record<string, string>;

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }

  /** One label set's series, created at zero, for a path that counts on every frame: its labels are rendered once. */
  series(labels: Labels): { value: number } {
    const key = labelText(labels);
    let entry = this.values.get(key);
    if (!entry) this.values.set(key, (entry = { labels, value: 0 }));
    return entry;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, { value }] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines;
  }
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((bound, i) => {
      if (value <= bound) this.counts[i]!++;
    });
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket{le="${bound}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${round(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}

/** What the scrape reads from the relay at that moment. */
export interface MetricsSnapshot {
  listeners: number;
  streams: number;
  ready: boolean;
  info: Labels;
}

/** An utterance's outcome, as the stream reports it. */
export interface UtteranceOutcome {
  reason: EndReason;
  error?: { code: string };
  firstAudioMs: number | null;
}

/** One instance's metrics. Hooks are cheap (a map update); the text is built only when scraped. */
export class Metrics {
  private readonly utterances = new Counter('tts_relay_utterances_total', 'Utterances ended, by outcome (done, cancelled, error).');
  private readonly firstAudio = new Histogram(
    'tts_relay_time_to_first_audio_seconds',
    'Seconds from a speak request arriving to the provider returning its first audio.',
    FIRST_AUDIO_BUCKETS,
  );
  private readonly upstreamErrors = new Counter('tts_relay_upstream_errors_total', 'Failures of the TTS provider, by error code.');
  private readonly sentBytes = new Counter('tts_relay_sent_bytes_total', 'Bytes sent to listeners, by frame kind (audio, control).');
  private readonly sentAudio = this.sentBytes.series({ kind: 'audio' });
  private readonly sentControl = this.sentBytes.series({ kind: 'control' });
  private readonly listenerConnections = new Counter('tts_relay_listener_connections_total', 'Listener WebSockets accepted.');
  private readonly slowListeners = new Counter('tts_relay_slow_listeners_dropped_total', 'Listeners dropped for falling behind real time (close 4008).');
  private readonly requests = new Counter('tts_relay_http_requests_total', 'HTTP requests answered, by method and status.');
  private readonly heardLatency = new Histogram(
    'tts_relay_heard_latency_seconds',
    "Seconds from a sample's time on the playout timeline to a listener reporting it played.",
    HEARD_LATENCY_BUCKETS,
  );
  private readonly playedReports = new Counter(
    'tts_relay_played_reports_total',
    'Playback reports from listeners, by outcome (accepted, capped: past what was sent, refused: wrong utterance, dropped: over the rate).',
  );
  private heldBytes = 0;

  constructor() {
    // Known series start at zero, so a rate() sees their first increment.
    for (const reason of ['done', 'cancelled', 'error']) this.utterances.inc({ reason }, 0);
    this.listenerConnections.inc({}, 0);
    this.slowListeners.inc({}, 0);
    for (const outcome of ['accepted', 'capped', 'refused', 'dropped']) this.playedReports.inc({ outcome }, 0);
  }

  playedReport(outcome: 'accepted' | 'capped' | 'refused' | 'dropped'): void {
    this.playedReports.inc({ outcome });
  }

  heardAfter(seconds: number): void {
    this.heardLatency.observe(seconds);
  }

  utteranceEnded(outcome: UtteranceOutcome): void {
    this.utterances.inc({ reason: outcome.reason });
    if (outcome.firstAudioMs !== null) this.firstAudio.observe(outcome.firstAudioMs / 1000);
    if (outcome.error?.code.startsWith('upstream_')) this.upstreamError(outcome.error.code);
  }

  /** For provider failures outside any utterance (a dropped upstream socket, a refused connection). */
  upstreamError(code: string): void {
    this.upstreamErrors.inc({ code });
  }

  /** A frame went to `copies` listeners: counted once per fan-out, not once per socket. */
  frameSent(frame: string | Uint8Array, copies = 1): void {
    if (typeof frame === 'string') this.sentControl.value += utf8Length(frame) * copies;
    else this.sentAudio.value += frame.byteLength * copies;
  }

  listenerConnected(): void {
    this.listenerConnections.inc();
  }

  slowListenerDropped(): void {
    this.slowListeners.inc();
  }

  /** Audio synthesized for a Cartesia-compatible client and held until its stream plays it grew by `delta` bytes. */
  audioHeld(delta: number): void {
    this.heldBytes += delta;
  }

  requestAnswered(method: string, status: number): void {
    this.requests.inc({ method, status: String(status) });
  }

  /** The Prometheus text exposition (format 0.0.4). */
  render(snapshot: MetricsSnapshot): string {
    const gauge = (name: string, help: string, value: number, labels: Labels = {}) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      `${name}${labelText(labels)} ${value}`,
    ];
    const lines = [
      ...gauge('tts_relay_info', 'The runtime and provider this instance runs on.', 1, snapshot.info),
      ...gauge('tts_relay_ready', '1 when the instance takes work (warmed up, provider and hub healthy, not shutting down).', snapshot.ready ? 1 : 0),
      ...gauge('tts_relay_listeners', 'Listener WebSockets open now.', snapshot.listeners),
      ...gauge('tts_relay_streams', 'Streams known to this instance now.', snapshot.streams),
      ...gauge('tts_relay_held_audio_bytes', 'Audio synthesized for Cartesia-compatible clients, waiting its turn on its stream.', this.heldBytes),
      ...this.listenerConnections.render(),
      ...this.utterances.render(),
      ...this.firstAudio.render(),
      ...this.sentBytes.render(),
      ...this.upstreamErrors.render(),
      ...this.slowListeners.render(),
      ...this.requests.render(),
      ...this.playedReports.render(),
      ...this.heardLatency.render(),
    ];
    return `${lines.join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** UTF-8 byte length without encoding the string. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
