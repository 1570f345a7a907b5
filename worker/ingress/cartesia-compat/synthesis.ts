/**
 * One Cartesia generation as the relay serves it: a provider context of its own, whose events go to the client
 * as fast as the provider makes them, and an utterance on the stream that plays the same audio to listeners in
 * the stream's order and pace. Where the stream's queue is in this process the stream plays this synthesis
 * (held, bounded, until its turn); across instances the stream's owner synthesizes the text again.
 */
import { secondsOf } from '../../../shared/audio-format.ts';
import { type CartesiaGenerationRequest, cartesiaVoiceId } from '../../../shared/cartesia-messages.ts';
import { RelayError, toRelayError } from '../../../shared/errors.ts';
import type { CompatIngress } from './ingress.ts';
import type { UtteranceHandle } from '../../core/stream-directory.ts';
import { SynthesizedContext } from '../../core/synthesized-context.ts';
import type { UtteranceOptions } from '../../core/utterance.ts';
import type { ProviderEvent, TTSContext } from '../../providers/provider.ts';

type CartesiaVoice = CartesiaGenerationRequest['voice'];

/** Audio one generation may hold for its stream before its client's audio slows to the stream's pace. */
const HELD_SECONDS = 60;

export interface SynthesisRequest {
  voice?: string;
  model?: string;
  language?: string;
  generation?: Record<string, unknown>;
  phonemeTimestamps: boolean;
  /** Cartesia's own buffering of continuations; 0: each input is spoken as it comes. */
  maxBufferDelayMs?: number;
  /** Passed upstream (the provider's `upstreamFields`; refused before this on the others). */
  pronunciationDictId?: string;
  normalizedTimestamps?: boolean;
  receivedAt: number;
}

/** The fields of a WebSocket or REST generation request that shape its synthesis. */
export interface GenerationFields {
  model_id: string;
  voice: CartesiaVoice;
  language?: string | null | undefined;
  locale?: string | null | undefined;
  generation_config?: Record<string, unknown> | undefined;
  add_phoneme_timestamps?: boolean | null | undefined;
  max_buffer_delay_ms?: number | null | undefined;
  pronunciation_dict_id?: string | null | undefined;
  use_normalized_timestamps?: boolean | null | undefined;
}

export function synthesisRequestOf(fields: GenerationFields, receivedAt: number): SynthesisRequest {
  const voice = cartesiaVoiceId(fields.voice);
  const language = fields.language ?? fields.locale;
  return {
    receivedAt,
    phonemeTimestamps: fields.add_phoneme_timestamps === true,
    model: fields.model_id,
    ...(voice ? { voice } : {}),
    ...(language ? { language } : {}),
    ...(fields.generation_config ? { generation: fields.generation_config } : {}),
    ...(typeof fields.max_buffer_delay_ms === 'number' ? { maxBufferDelayMs: fields.max_buffer_delay_ms } : {}),
    ...(fields.pronunciation_dict_id ? { pronunciationDictId: fields.pronunciation_dict_id } : {}),
    ...(fields.use_normalized_timestamps ? { normalizedTimestamps: true } : {}),
  };
}

/** Where a generation's events go on the client side (audio in the stream's format). */
export type ClientSink = (event: ProviderEvent) => void;

export class Synthesis {
  private ended = false;
  private cancelled = false;

  private constructor(
    private readonly ingress: CompatIngress,
    private readonly stream: string,
    private readonly context: TTSContext,
    readonly utterance: UtteranceHandle,
  ) {}

  /** Queues the utterance on the stream (`queue_full` when full) and starts synthesis for the client. */
  static async open(ingress: CompatIngress, stream: string, request: SynthesisRequest, sink: ClientSink): Promise<Synthesis> {
    const format = ingress.sourceFormat;
    const options: UtteranceOptions = {
      receivedAt: request.receivedAt,
      buffering: 'relay',
      ...(request.voice ? { voice: request.voice } : {}),
      ...(request.language ? { language: request.language } : {}),
      ...(request.model ? { model: request.model } : {}),
      ...(request.phonemeTimestamps ? { phonemeTimestamps: true } : {}),
      ...(request.generation ? { generation: request.generation } : {}),
    };
    const held = ingress.directory.enqueueSynthesized
      ? new SynthesizedContext({ maxSeconds: HELD_SECONDS, secondsOf: (bytes) => secondsOf(format, bytes), onHeld: (delta) => ingress.audioHeld(delta) })
      : null;
    const utterance = held ? await ingress.directory.enqueueSynthesized!(stream, options, held) : await ingress.directory.enqueue(stream, options);
    const context = ingress.synthesizer.openContext({
      format,
      timestamps: true,
      ...(request.phonemeTimestamps ? { phonemeTimestamps: true } : {}),
      ...(request.voice ? { voice: request.voice } : {}),
      ...(request.model ? { model: request.model } : {}),
      ...(request.language ? { language: request.language } : {}),
      ...(request.generation ? { generation: request.generation } : {}),
      buffering: request.maxBufferDelayMs === 0 ? 'relay' : 'provider',
      ...(request.maxBufferDelayMs !== undefined ? { maxBufferDelayMs: request.maxBufferDelayMs } : {}),
      ...(request.pronunciationDictId ? { pronunciationDictId: request.pronunciationDictId } : {}),
      ...(request.normalizedTimestamps ? { normalizedTimestamps: true } : {}),
    });
    const synthesis = new Synthesis(ingress, stream, context, utterance);
    synthesis.pump(sink, held).catch((error: unknown) => {
      const failure = toRelayError(error, 'upstream_error');
      sink({ type: 'error', error: failure });
      void held?.offer({ type: 'error', error: failure });
    });
    return synthesis;
  }

  /** Adds text; throws `text_too_long` past the utterance limit (the generation is then cancelled). */
  write(text: string): void {
    if (this.ended || text === '') return;
    try {
      this.utterance.write(text);
    } catch (error) {
      this.cancel();
      throw error;
    }
    this.context.push(text);
  }

  flush(): void {
    if (this.ended) return;
    this.utterance.flush();
    this.context.flush();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.utterance.end();
    this.context.end();
  }

  /** Stops synthesis and the stream's utterance: what listeners were not yet sent is never spoken. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.ended = true;
    this.context.cancel();
    this.ingress.directory.cancelUtterance(this.stream, this.utterance.id).catch((error: unknown) =>
      this.ingress.logger.warn('cartesia context cancel failed', { stream: this.stream, error }),
    );
  }

  private async pump(sink: ClientSink, held: SynthesizedContext | null): Promise<void> {
    let finished = false;
    for await (const event of this.context.events) {
      if (this.cancelled) return;
      sink(event);
      if (held) await held.offer(event);
      if (event.type === 'done' || event.type === 'error') finished = true;
    }
    if (!finished && !this.cancelled) throw new RelayError('upstream_error', 'The provider ended the generation without finishing it.');
  }
}
