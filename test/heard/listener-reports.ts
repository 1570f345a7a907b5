/** What the heard tests do as a raw listener: send `played` reports, and wait until audio was sent to it. */
import { samplesIn } from '../../shared/audio-format.ts';
import type { Played } from '../../shared/protocol.ts';
import { PresentedAudio } from '../../worker/core/heard-presented.ts';
import { relayClockAt } from '../../worker/core/relay-clock.ts';
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

/** Seconds of the utterance presented by now on the relay's clock, from the `timing` messages the listener got. */
export function presentedNow(listener: RecordedListener, utterance: number): number {
  const presented = new PresentedAudio();
  for (const m of listener.messages) if (m.type === 'timing' && m.utterance === utterance) presented.placed(m.sample / RATE, m.at);
  return presented.presentedBy(relayClockAt(performance.now())) ?? 0;
}

/**
 * Resolves once the listener was sent `seconds` more of the utterance than is presented by now (checked on each
 * message): how far a report may run ahead of the presented audio, whatever the machine's load did to synthesis.
 */
export function sentAhead(listener: RecordedListener, utterance: number, seconds: number): Promise<void> {
  const ahead = () => secondsSent(listener, utterance) - presentedNow(listener, utterance) >= seconds;
  if (ahead()) return Promise.resolve();
  return within(
    new Promise<void>((resolve) => {
      const check = () => {
        if (!ahead()) return;
        listener.socket.off('message', check);
        resolve();
      };
      listener.socket.on('message', check);
    }),
    20_000,
    `${seconds} s of audio sent ahead of what is presented (got ${(secondsSent(listener, utterance) - presentedNow(listener, utterance)).toFixed(2)} s)`,
  );
}
