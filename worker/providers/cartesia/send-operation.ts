/** What one operation asked of a context becomes on the SDK's context. */
import type { TextInput } from '../../core/text-input.ts';
import type { ContextSettings } from './context-settings.ts';
import type { TTSWSContext } from './sdk.ts';

type GenerationConfig = Parameters<TTSWSContext['push']>[0]['generation_config'];

/**
 * Sends `operation` through the SDK context; `last` text also ends the context (`continue: false`), as a one-shot
 * client sends it, where the end alone is an empty transcript (`no_more_inputs`).
 */
export function sendOperation(upstream: TTSWSContext, operation: TextInput, last: boolean, generation: ContextSettings['generation']): Promise<void> {
  switch (operation.type) {
    case 'text': {
      const request = {
        transcript: operation.text,
        // Emotion is free text here; Cartesia validates it against its list.
        ...(generation ? { generation_config: generation as GenerationConfig } : {}),
      };
      return last ? upstream.send({ ...request, continue: false }) : upstream.push(request);
    }
    case 'flush':
      return upstream.flush();
    case 'end':
      return upstream.no_more_inputs();
  }
}
