/**
 * One audio format's channel of a stream: converts the stream's events into that format's frames once, for
 * every listener of the format (and, on its own, for one listener replaying the current utterance).
 */
import { type AudioFormat, samplesIn } from '../../shared/audio-format.ts';
import { AUDIO_HEADER_BYTES, encodeAudioFrame, type ListenerMessage } from '../../shared/protocol.ts';
import { createTranscoder, type Transcoder } from '../../shared/transcoder.ts';
import type { BrokerEvent } from '../broker/broker.ts';
import { ChannelSockets } from './channel-sockets.ts';
import { ListenerList } from './listener-list.ts';
import type { Listener } from './listener.ts';

/** How much of an utterance a listener was sent, and whether that was all of it. */
export interface SentSamples {
  samples: number;
  ended: boolean;
}

export class FormatChannel {
  readonly listeners = new ChannelSockets(new ListenerList());
  /**
   * The listeners in step (`?timing=true`), also among `listeners`: a `timing` message goes to them as one message. A
   * Set, as a listener's place is its place in `listeners`.
   */
  readonly inStep = new ChannelSockets(new Set());
  private transcoder: Transcoder | null = null;
  private utterance: number | null = null;
  private samples = 0;
  /** The current utterance's start message, for listeners that join in its middle. */
  startMessage: string | null = null;
  /** The current utterance's latest `timing`, for listeners in step that join in its middle. */
  timingMessage: string | null = null;
  /** The last utterance that ended here and the samples sent of it, for listeners' late playback reports. */
  private ended = { utterance: -1, samples: 0 };
  /** The frame audio is written into while every listener's socket copies what it is sent: no allocation per frame. */
  private reusedFrame: Uint8Array | null = null;

  constructor(
    readonly format: AudioFormat,
    private readonly sourceFormat: AudioFormat,
  ) {}

  add(listener: Listener): void {
    this.listeners.add(listener);
    if (listener.timing) this.inStep.add(listener);
  }

  /** False when the listener was not on this channel. */
  delete(listener: Listener): boolean {
    this.inStep.delete(listener);
    return this.listeners.delete(listener);
  }

  /** The sockets an event's frames go to: `timing` only to the listeners in step. */
  socketsFor(event: BrokerEvent): ChannelSockets {
    return event.type === 'timing' ? this.inStep : this.listeners;
  }

  /** The utterance this channel is converting, or null between utterances. */
  get current(): number | null {
    return this.utterance;
  }

  /** Samples of `utterance` sent to this channel's listeners so far, or null when it is neither current nor last ended. */
  sentOf(utterance: number): SentSamples | null {
    if (utterance === this.utterance) return { samples: this.samples, ended: false };
    return utterance === this.ended.utterance ? { samples: this.ended.samples, ended: true } : null;
  }

  /** After a replay that starts `sourceBytes` into the utterance: frames carry sample offsets from there. */
  startAt(sourceBytes: number): void {
    const sourceSamples = samplesIn(this.sourceFormat, sourceBytes);
    this.samples = Math.round((sourceSamples * this.format.sampleRate) / this.sourceFormat.sampleRate);
  }

  /** Turns one broker event into the frames this format's listeners get, computed once for all of them. */
  frames(event: BrokerEvent): Array<string | Uint8Array> {
    switch (event.type) {
      case 'utterance_start':
        this.utterance = event.utterance;
        this.samples = 0;
        this.transcoder = createTranscoder(this.sourceFormat, this.format);
        this.startMessage = JSON.stringify(event satisfies ListenerMessage);
        this.timingMessage = null;
        return [this.startMessage];
      case 'audio': {
        const frame = this.audioFrame(event);
        return frame ? [frame] : [];
      }
      case 'timing': {
        if (event.utterance !== this.utterance) return [];
        const sample = Math.round(event.position * this.format.sampleRate);
        this.timingMessage = JSON.stringify({ type: 'timing', utterance: event.utterance, sample, at: event.at } satisfies ListenerMessage);
        return [this.timingMessage];
      }
      case 'timestamps':
      case 'phoneme_timestamps':
        return event.utterance === this.utterance ? [JSON.stringify(event satisfies ListenerMessage)] : [];
      case 'flush_done':
        return [];
      case 'utterance_end': {
        if (event.utterance !== this.utterance) return [];
        const out: Array<string | Uint8Array> = [];
        if (this.transcoder) {
          // A cancelled utterance's converter tail is stale audio: drop it rather than send it after the cut.
          const tail = event.reason === 'cancelled' ? null : this.frameOf(this.transcoder.flush());
          if (tail) out.push(tail);
        }
        out.push(JSON.stringify({ ...event, samples: this.samples } satisfies ListenerMessage));
        this.ended = { utterance: event.utterance, samples: this.samples };
        this.transcoder = null;
        this.utterance = null;
        this.startMessage = null;
        this.timingMessage = null;
        return out;
      }
    }
  }

  /** An audio event's frame for this format, or null (another utterance's, or no whole sample yet): no array per frame. */
  audioFrame(event: Extract<BrokerEvent, { type: 'audio' }>): Uint8Array | null {
    if (event.utterance !== this.utterance || !this.transcoder) return null;
    return this.frameOf(this.transcoder.push(event.data));
  }

  private frameOf(payload: Uint8Array): Uint8Array | null {
    if (payload.byteLength === 0 || this.utterance === null) return null;
    const frame = encodeAudioFrame(this.utterance, this.samples, payload, this.listeners.copiesOnSend ? this.reusableFrame(AUDIO_HEADER_BYTES + payload.byteLength) : undefined);
    this.samples += samplesIn(this.format, payload.byteLength);
    return frame;
  }

  /** A frame of `length` bytes that the next one overwrites (chunks are mostly one size: a new one only when it changes). */
  private reusableFrame(length: number): Uint8Array {
    if (this.reusedFrame?.byteLength !== length) this.reusedFrame = new Uint8Array(length);
    return this.reusedFrame;
  }
}
