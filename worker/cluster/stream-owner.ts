/**
 * This instance's turn at one stream: while it holds the stream's lease it takes utterances from the
 * stream's queue in Redis one at a time and speaks them through the local Stream; with the queue empty it
 * gives the stream up.
 */
import { RelayError } from '../../shared/errors.ts';
import { sleep } from '../../shared/timers.ts';
import type { RedisKeys } from '../broker/redis-keys.ts';
import { type Reply, type RedisLink, text } from '../broker/redis-link.ts';
import type { Logger } from '../ops/logger.ts';
import type { LocalStreams } from '../core/local-streams.ts';
import type { Utterance, UtteranceOptions, UtteranceResult } from '../core/utterance.ts';
import { apply, type InputRecord, type RemoteUtterance } from './remote-utterance.ts';
import { inputRecords, parseRecord, type UtteranceRecord } from './records.ts';
import { CLAIM, RELEASE } from './scripts.ts';

/** A blocked read of an utterance's input gives up this often to check its origin is still alive. */
const INPUT_POLL_MS = 2000;
const RETRY_MS = 500;

/** What the owner needs of the cluster it belongs to. */
export interface OwnerContext {
  streams: LocalStreams;
  link: RedisLink;
  keys: RedisKeys;
  instanceId: string;
  leaseMs: number;
  /** The origin's upload guard: an utterance's input silent twice this long is failed here. */
  uploadIdleMs: number;
  now: () => number;
  logger: Logger;
  /** The utterance this instance took the request for, if it did. */
  origin(id: string): RemoteUtterance | undefined;
  /** Tells the utterance's origin instance how it ended. */
  report(origin: string, id: string, result: UtteranceResult): void;
  /** Whether the origin instance is still running. */
  isAlive(instanceId: string): Promise<boolean>;
}

export class StreamOwner {
  private current: { id: string; utterance: Utterance } | null = null;
  private lost = false;
  private stopping = false;
  /** Set the moment the loop ends, before `done` settles. */
  finished = false;
  readonly done: Promise<void>;

  constructor(
    readonly stream: string,
    private readonly context: OwnerContext,
  ) {
    this.done = this.run().catch((error: unknown) => context.logger.error('stream owner failed', { stream, error }));
  }

  /** Another instance holds the lease now (this one was cut off too long): stop speaking at once. */
  leaseLost(): void {
    // A renewal that crossed this owner's own release at the end of its queue says nothing.
    if (this.lost || !this.current) return;
    this.lost = true;
    this.context.logger.warn('stream lease lost to another instance', { stream: this.stream });
    if (this.current) this.context.streams.get(this.stream)?.cancel(false);
  }

  /** Cancels the utterance if it is the one speaking here. */
  cancel(id: string): void {
    if (this.current?.id === id) this.context.streams.get(this.stream)?.cancel(false);
  }

  /** Finish the current utterance, then give the stream up without taking the next. */
  stop(): Promise<void> {
    this.stopping = true;
    return this.done;
  }

  private async run(): Promise<void> {
    try {
      await this.takeTurns();
    } finally {
      this.finished = true;
    }
  }

  private async takeTurns(): Promise<void> {
    const { streams, link, keys, instanceId, leaseMs } = this.context;
    const stream = this.stream;
    let finished = '';
    for (;;) {
      if (this.lost) return;
      if (this.stopping || !streams.isAccepting) {
        await this.release();
        return;
      }
      let claim: Reply;
      try {
        claim = await link.script(CLAIM, [keys.owner(stream), keys.queue(stream), keys.utterances(stream), keys.current(stream), keys.leases], [
          instanceId,
          String(leaseMs),
          stream,
          finished,
          new Date().toISOString(),
          keys.inputPrefix(stream),
        ]);
      } catch (error) {
        // Redis is away: the queue is there, so wait for it (the lease may pass to another instance meanwhile).
        this.context.logger.debug('claim failed; retrying', { stream, error });
        await sleep(RETRY_MS);
        continue;
      }
      finished = '';
      const [verdict, idReply, metaReply] = Array.isArray(claim) ? claim : [];
      if (text(verdict) !== 'next') return;
      const id = text(idReply);
      finished = id;
      const record = parseRecord(text(metaReply));
      if (!record) {
        this.context.logger.error('queued utterance without a record skipped', { stream, utterance_id: id });
        continue;
      }
      const { result } = await this.speak(id, record);
      // An utterance taken here settled itself through attach(); another instance hears over Redis, once
      // what listeners heard is known (the next utterance does not wait for that).
      if (record.origin !== instanceId) void result.then((settled) => this.context.report(record.origin, id, settled));
    }
  }

  /** Speaks one utterance; resolves when it ended, with its outcome still to settle. */
  private async speak(id: string, record: UtteranceRecord): Promise<{ result: Promise<UtteranceResult> }> {
    const { streams, now } = this.context;
    const local = this.context.origin(id);
    let utterance: Utterance;
    try {
      const options = { ...record.options, receivedAt: local ? local.options.receivedAt : now() } as UtteranceOptions;
      utterance = streams.open(this.stream).enqueue(options, { id, number: record.number });
    } catch (error) {
      const relayError = error instanceof RelayError ? error : new RelayError('internal_error', undefined, { cause: error });
      local?.settleLocally('error', relayError);
      return { result: Promise.resolve({ reason: 'error', error: relayError, characters: 0, audioSeconds: 0, firstAudioMs: null, totalMs: 0 }) };
    }
    this.current = { id, utterance };
    if (local) local.attach(utterance);
    else this.readInput(id, record.origin, utterance).catch((error: unknown) => utterance.fail(error instanceof RelayError ? error : new RelayError('internal_error', undefined, { cause: error })));
    await utterance.finished;
    this.current = null;
    return { result: utterance.result };
  }

  /** Moves the utterance's text from its input stream in Redis into the local utterance, in order. */
  private async readInput(id: string, origin: string, utterance: Utterance): Promise<void> {
    const key = this.context.keys.input(this.stream, id);
    const reader = await this.connectReader(utterance);
    if (!reader) return;
    let last = '0';
    let lastInputAt = this.context.now();
    // The origin's own upload guard ends a silent upload after uploadIdleMs; this covers an origin that could not say so.
    const silentLimitMs = 2 * this.context.uploadIdleMs;
    try {
      while (!utterance.ended && !utterance.inputComplete) {
        let reply: Reply;
        try {
          reply = await reader.command(['XREAD', 'COUNT', '256', 'BLOCK', String(INPUT_POLL_MS), 'STREAMS', key, last]);
        } catch {
          await sleep(RETRY_MS);
          continue;
        }
        if (reply === null) {
          if (!(await this.context.isAlive(origin).catch(() => true))) {
            utterance.fail(new RelayError('instance_lost', 'The relay instance receiving this utterance\'s text stopped before the text ended.'));
          } else if (this.context.now() - lastInputAt > silentLimitMs) {
            utterance.fail(new RelayError('upload_timeout', 'No text for this utterance arrived from the instance receiving it.'));
          }
          continue;
        }
        lastInputAt = this.context.now();
        for (const [entryId, record] of inputRecords(reply)) {
          last = entryId;
          apply(utterance, record);
        }
      }
    } finally {
      reader.close();
    }
  }

  private async connectReader(utterance: Utterance) {
    for (;;) {
      if (utterance.ended) return null;
      try {
        return await this.context.link.blockingReader();
      } catch {
        await sleep(RETRY_MS);
      }
    }
  }

  private async release(): Promise<void> {
    const { link, keys, instanceId } = this.context;
    await link
      .script(RELEASE, [keys.owner(this.stream), keys.queue(this.stream), keys.current(this.stream), keys.leases], [instanceId, this.stream])
      .catch((error: unknown) => this.context.logger.warn('stream release failed; its lease will expire', { stream: this.stream, error }));
  }
}
