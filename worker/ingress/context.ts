/** What the ingress routes (speak, listen, publish, Cartesia-compatible) may use of the relay, and nothing more. */
import type { AudioFormat } from '../../shared/audio-format.ts';
import type { Broker } from '../broker/broker.ts';
import type { RecentOutcomes } from '../core/heard.ts';
import type { StreamDirectory } from '../core/stream-directory.ts';
import type { PlaybackReports } from '../listeners/played-reports.ts';
import type { ListenerRegistry } from '../listeners/listener.ts';
import type { RelayLimits } from '../ops/config.ts';
import type { Logger } from '../ops/logger.ts';
import type { TTSProvider } from '../providers/provider.ts';
import type { Authenticator } from '../security/auth.ts';

export interface IngressContext {
  readonly limits: RelayLimits;
  /** The one way to open, speak to, cancel in and read a stream. */
  readonly directory: StreamDirectory;
  /** This instance's listeners. */
  readonly listeners: ListenerRegistry;
  /** Their `played` reports, and the positions they give. */
  readonly played: PlaybackReports;
  /** Recent utterances' outcomes on this instance, with what was heard. */
  readonly outcomes: RecentOutcomes;
  /** A stream's events as its listeners get them (utterance start and end, flush_done, audio): for spoken progress. */
  readonly events: Pick<Broker, 'subscribe'>;
  /** The format streams are synthesized in: a listener's default, and what is converted from. */
  readonly sourceFormat: AudioFormat;
  /** The provider's name and its voices, for status, the catalog and checking a requested voice. */
  readonly provider: Pick<TTSProvider, 'name' | 'defaultVoice' | 'voices'>;
  /** For ingresses that authenticate themselves (the Cartesia-compatible one takes Cartesia's credential forms). */
  readonly auth: Authenticator;
  readonly logger: Logger;
  readonly now: () => number;
  /** The listener protocol's relay clock now (clock pongs). */
  readonly clock: () => number;
}
