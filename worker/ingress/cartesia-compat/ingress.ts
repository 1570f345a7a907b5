/** What the Cartesia-compatible ingress uses of the relay: the ingress context, plus synthesis of its own. */
import type { TTSProvider } from '../../providers/provider.ts';
import type { IngressContext } from '../context.ts';

export interface CompatIngress extends IngressContext {
  /** Opens the provider contexts that serve clients on Cartesia's timing. */
  readonly synthesizer: Pick<TTSProvider, 'openContext' | 'upstreamFields'>;
  /** Audio held for a stream's turn grew (or shrank) by `delta` bytes: the held-audio gauge. */
  audioHeld(delta: number): void;
}
