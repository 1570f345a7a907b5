/** `tts-agent say`: POSTs text to a stream; from stdin it streams a chunked body so speech starts before stdin ends. */
import { speakAcceptedSchema, speakCompletedSchema, type SpeakAccepted, type SpeakCompleted } from '../shared/api.ts';
import { AgentError } from './agent-error.ts';
import { authHeaders, streamURL, type RelayEndpoint } from './relay-endpoint.ts';
import { explainConnectFailure } from './connect-failure.ts';
import { authHint, formatRelayError, readRelayError } from './relay-error.ts';

export interface SayOptions {
  endpoint: RelayEndpoint;
  stream: string;
  /** Whole text, or a byte stream sent as it arrives. */
  text: string | ReadableStream<Uint8Array>;
  /** Answer only when the audio is complete, with its figures. */
  wait: boolean;
  /** A voice id from GET /v1/voices; the relay's default when absent. */
  voice?: string;
  signal?: AbortSignal;
}

/** `duplex` is required by fetch for a streaming body and missing from the DOM typings. */
type StreamingRequestInit = RequestInit & { duplex?: 'half' };

export async function say(options: SayOptions): Promise<SpeakAccepted | SpeakCompleted> {
  const url = streamURL(options.endpoint, options.stream, 'speak');
  if (options.wait) url.searchParams.set('wait', 'true');
  if (options.voice !== undefined) url.searchParams.set('voice', options.voice);
  const init: StreamingRequestInit = {
    method: 'POST',
    headers: { ...authHeaders(options.endpoint), 'Content-Type': 'text/plain; charset=utf-8' },
    body: options.text,
    signal: options.signal,
  };
  if (typeof options.text !== 'string') init.duplex = 'half';

  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw await unreachable(options.endpoint, error);
  }
  if (!response.ok) {
    const info = await readRelayError(response);
    const hint = authHint(response.status, info.message, options.endpoint.token !== undefined);
    throw new AgentError('relay_error', `${formatRelayError(info)}${hint ? `\nhint: ${hint}` : ''}`);
  }
  const body: unknown = await response.json().catch(() => null);
  const parsed = (options.wait ? speakCompletedSchema : speakAcceptedSchema).safeParse(body);
  if (!parsed.success) {
    throw new AgentError('relay_error', `error bad_response: the relay's answer is not a speak result: ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return parsed.data;
}

/** One line per figure a script may want: the id first, so `$(tts-agent say …)` without --wait is just the id. */
export function describeCompletion(result: SpeakCompleted): string {
  const firstAudio = result.first_audio_ms === null ? 'no audio' : `first audio after ${Math.round(result.first_audio_ms)} ms`;
  return `${result.reason}: ${result.audio_seconds.toFixed(2)} s of audio from ${result.characters} characters; ${firstAudio}, complete after ${Math.round(result.total_ms)} ms`;
}

async function unreachable(endpoint: RelayEndpoint, error: unknown): Promise<AgentError> {
  if (error instanceof Error && error.name === 'AbortError') return new AgentError('relay_unreachable', 'stopped before the relay answered', { cause: error });
  const { message } = await explainConnectFailure(endpoint.baseURL, error);
  return new AgentError('relay_unreachable', message, { cause: error });
}
