/** The utterances one WebSocket publisher opened, each with how far its text has been spoken. */
import { errorInfo } from '../../shared/errors.ts';
import type { Heard } from '../../shared/protocol.ts';
import type { PublishAck, PublishServerMessage } from '../../shared/publish-protocol.ts';
import type { BrokerEvent } from '../broker/broker.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import type { UtteranceResult } from '../core/utterance.ts';
import { SpokenProgress } from './spoken-progress.ts';

interface Owned {
  utterance: UtteranceHandle;
  progress: SpokenProgress;
}

export class PublisherUtterances {
  private readonly byId = new Map<string, Owned>();
  private readonly byNumber = new Map<number, Owned>();

  constructor(private readonly now: () => number) {}

  /** Tracks an utterance until it ends, then forgets it and calls `ended` in the same turn. */
  adopt(utterance: UtteranceHandle, ended: (result: UtteranceResult) => void): Promise<void> {
    const owned: Owned = { utterance, progress: new SpokenProgress(this.now) };
    this.byId.set(utterance.id, owned);
    this.byNumber.set(utterance.number, owned);
    return utterance.result.then((result) => {
      this.byId.delete(utterance.id);
      this.byNumber.delete(utterance.number);
      ended(result);
    });
  }

  get(id: string): UtteranceHandle | undefined {
    return this.byId.get(id)?.utterance;
  }

  progressOf(id: string): SpokenProgress | undefined {
    return this.byId.get(id)?.progress;
  }

  /** The most recently opened utterance not yet ended. */
  latestGoing(): UtteranceHandle | undefined {
    let last: UtteranceHandle | undefined;
    for (const { utterance } of this.byId.values()) if (!utterance.ended) last = utterance;
    return last;
  }

  /**
   * What listeners heard of the utterances a cancel stopped, where this instance can tell: this
   * publisher's own, else the stream's recent outcomes (`outcomeOf`).
   */
  async heardOf(ids: string[], outcomeOf: (id: string) => Promise<UtteranceResult> | undefined): Promise<Record<string, Heard> | null> {
    const results = await Promise.all(ids.map((id) => this.get(id)?.result ?? outcomeOf(id)));
    const heard: Record<string, Heard> = {};
    results.forEach((result, i) => {
      if (result?.heard) heard[ids[i]!] = result.heard;
    });
    return Object.keys(heard).length > 0 ? heard : null;
  }

  /** Words timed and audio released on the stream count as progress of the utterance they belong to. */
  observe(event: BrokerEvent): void {
    if (event.type === 'timestamps') this.byNumber.get(event.utterance)?.progress.spoke(event.words.map((w) => w.word));
    else if (event.type === 'audio') this.byNumber.get(event.utterance)?.progress.sounded();
  }
}

/** The `utterance_end` a publisher is sent for one of its utterances. */
export function utteranceEnd(utterance: UtteranceHandle, result: UtteranceResult): PublishServerMessage {
  return {
    type: 'utterance_end',
    utterance_id: utterance.id,
    utterance: utterance.number,
    reason: result.reason,
    characters: result.characters,
    audio_seconds: Math.round(result.audioSeconds * 1000) / 1000,
    first_audio_ms: result.firstAudioMs === null ? null : Math.round(result.firstAudioMs * 10) / 10,
    ...(result.heard ? { heard: result.heard } : {}),
    ...(result.error ? { error: errorInfo(result.error) } : {}),
  };
}

/** The fields that name an utterance in an ack, when there is one. */
export function naming(utterance: UtteranceHandle | null): Pick<PublishAck, 'utterance_id' | 'utterance'> {
  return utterance ? { utterance_id: utterance.id, utterance: utterance.number } : {};
}
