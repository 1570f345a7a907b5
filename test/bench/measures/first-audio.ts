/** Time to first audio as a caller meets it: text posted to a stream, timed to the first audio frame at a listener. */
import { ProbeListener } from '../probe-listener.ts';
import { speak } from '../speak-client.ts';

export interface Target {
  url: string;
  key: string;
}

/** The bound: the first utterance costs what the hundredth does, within 1.1×. */
export const FIRST_UTTERANCE_LIMIT = 1.1;

/** Posts `text`, times its first audio frame at the listener, then cancels it and waits for its end. */
export async function timeToFirstAudio(target: Target, stream: string, listener: ProbeListener, text: string, options: { newConnection?: boolean } = {}): Promise<number> {
  let sentAt = 0;
  const audio = listener.nextAudio(0);
  const answer = await speak(target, stream, text, '', () => (sentAt = performance.now()), options);
  if (answer.status !== 202) throw new Error(`speak answered ${answer.status}: ${answer.body}`);
  const timing = await audio;
  const ended = listener.ended(timing.utterance);
  await cancel(target, stream);
  await ended;
  return timing.firstAudioAt - sentAt;
}

/**
 * One utterance on a stream, listener and connection of its own, as a new caller's comes: over a kept-alive
 * connection only a relay's first request would pay for opening one (2-3x the warm figure at load 10), which no
 * warm-up can take away.
 */
export async function newCallerUtterance(target: Target, stream: string, text: string): Promise<number> {
  const listener = await ProbeListener.open(`${target.url.replace(/^http/, 'ws')}/v1/streams/${stream}/listen`, { authorization: `Bearer ${target.key}` });
  try {
    return await timeToFirstAudio(target, stream, listener, text, { newConnection: true });
  } finally {
    listener.close();
  }
}

async function cancel(target: Target, stream: string): Promise<void> {
  const response = await fetch(new URL(`/v1/streams/${stream}/cancel?all=true`, target.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${target.key}` },
  });
  await response.arrayBuffer();
}
