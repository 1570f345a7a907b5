/** What the heard tests do as a raw listener: send `played` reports, and wait until audio was sent to it. */
import { samplesIn } from '../../shared/audio-format.ts';
import type { Played } from '../../shared/protocol.ts';
import type { RecordedListener } from '../support/listener-client.ts';
import { within } from '../support/relay.ts';

/** The espeak provider's rate: a listener that asks for no format gets pcm_f32le at this rate. */
export const RATE = 22050;

export function report(listener: RecordedListener, played: Played): void {
  listener.socket.send(JSON.stringify(played));
}

export function secondsSent(listener: RecordedListener, utterance: number): number {
  return samplesIn({ encoding: 'pcm_f32le', sampleRate: RATE }, listener.audioOf(utterance).byteLength) / RATE;
}

/** Resolves once the listener was sent `seconds` of the utterance (checked on each frame it gets). */
export function received(listener: RecordedListener, utterance: number, seconds: number): Promise<void> {
  if (secondsSent(listener, utterance) >= seconds) return Promise.resolve();
  return within(
    new Promise<void>((resolve) => {
      const check = () => {
        if (secondsSent(listener, utterance) < seconds) return;
        listener.socket.off('message', check);
        resolve();
      };
      listener.socket.on('message', check);
    }),
    20_000,
    `${seconds} s of audio to the listener (got ${secondsSent(listener, utterance)} s)`,
  );
}
