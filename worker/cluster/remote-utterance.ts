/**
 * An utterance as the instance that took its speak request sees it, when the stream's queue lives in Redis.
 * Its text goes to the utterance's input stream in Redis, where the owner reads it, and also survives the
 * owner; when this instance is the owner the text goes straight into the local utterance instead.
 */
import { type ErrorInfo, errorInfo, RelayError } from '../../shared/errors.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import { TextInlet, type TextInput, TextWriter } from '../core/text-input.ts';
import type { Heard } from '../../shared/protocol.ts';
import type { Utterance, UtteranceOptions, UtteranceResult } from '../core/utterance.ts';

/** What crosses Redis for one utterance's input, in order. */
export type InputRecord = TextInput | { type: 'fail'; error: RelayError };

/** How the owner reports an utterance's outcome to the instance that took it (clock-free durations only). */
export interface RemoteResult {
  reason: UtteranceResult['reason'];
  error?: ErrorInfo;
  audioSeconds: number;
  /** Milliseconds from the first audio to the end, or null when there was none. */
  firstAudioToEndMs: number | null;
  heard?: Heard;
}

export class RemoteUtterance extends TextWriter implements UtteranceHandle {
  number = 0;
  readonly result: Promise<UtteranceResult>;
  private settleResult!: (result: UtteranceResult) => void;
  private settled = false;
  /** Everything written so far, replayed into the local utterance if this instance becomes its owner. */
  private written: InputRecord[] = [];
  private local: Utterance | null = null;
  protected readonly inlet: TextInlet;

  constructor(
    readonly id: string,
    readonly stream: string,
    readonly options: UtteranceOptions,
    maxCharacters: number,
    private readonly now: () => number,
    /** Appends to the utterance's input stream in Redis; fails the utterance when Redis refuses. */
    private readonly send: (record: InputRecord) => Promise<void>,
  ) {
    super();
    this.inlet = new TextInlet(maxCharacters, {
      isSettled: () => this.settled,
      deliver: (input) => this.forward(input),
      failed: (error) => this.forward({ type: 'fail', error }),
    });
    this.result = new Promise((resolve) => (this.settleResult = resolve));
  }

  get ended(): boolean {
    return this.settled;
  }

  /** This instance owns the stream now and speaks this utterance: its text goes straight in from here on. */
  attach(local: Utterance): void {
    this.local = local;
    for (const record of this.written) apply(local, record);
    this.written = [];
    local.result.then((result) => this.settle({ ...result, characters: this.inlet.characters }), () => {});
  }

  /** The outcome, as the owner reported it over Redis. */
  settleRemote(result: RemoteResult): void {
    const totalMs = this.now() - this.options.receivedAt;
    this.settle({
      reason: result.reason,
      ...(result.error ? { error: new RelayError(result.error.code, result.error.message) } : {}),
      characters: this.inlet.characters,
      audioSeconds: result.audioSeconds,
      firstAudioMs: result.firstAudioToEndMs === null ? null : Math.max(0, totalMs - result.firstAudioToEndMs),
      totalMs,
      ...(result.heard ? { heard: result.heard } : {}),
    });
  }

  /** Ends it here with a reason no owner will report (cancelled while queued, owner lost, Redis gone). */
  settleLocally(reason: UtteranceResult['reason'], error?: RelayError): void {
    this.settle({ reason, ...(error ? { error } : {}), characters: this.inlet.characters, audioSeconds: 0, firstAudioMs: null, totalMs: this.now() - this.options.receivedAt });
  }

  private settle(result: UtteranceResult): void {
    if (this.settled) return;
    this.settled = true;
    this.inlet.close();
    this.written = [];
    this.settleResult(result);
  }

  private forward(record: InputRecord): void {
    if (this.local) {
      apply(this.local, record);
      return;
    }
    this.written.push(record);
    this.send(record).catch((error: unknown) => this.settleLocally('error', error instanceof RelayError ? error : new RelayError('hub_unavailable')));
  }
}

/** Feeds one input record into a local utterance. */
export function apply(utterance: Utterance, record: InputRecord): void {
  try {
    if (record.type === 'text') utterance.write(record.text);
    else if (record.type === 'flush') utterance.flush();
    else if (record.type === 'end') utterance.end();
    else utterance.fail(record.error);
  } catch {
    // text_too_long: the utterance failed itself and reports it through its result.
  }
}

/** A result for the wire: durations that do not depend on which instance's clock measured them. */
export function toRemoteResult(result: UtteranceResult): RemoteResult {
  return {
    reason: result.reason,
    ...(result.error ? { error: errorInfo(result.error) } : {}),
    audioSeconds: result.audioSeconds,
    firstAudioToEndMs: result.firstAudioMs === null ? null : Math.max(0, result.totalMs - result.firstAudioMs),
    ...(result.heard ? { heard: result.heard } : {}),
  };
}
