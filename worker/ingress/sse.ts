/** Server-sent events as a body: the `data` of each event, and the text inside LLM-style chunks. */

/** Yields each event's data (multi-line data joined by newlines); comments and other fields are skipped. */
export async function* readSSE(lines: AsyncIterable<string>): AsyncGenerator<string> {
  let data: string[] = [];
  for await (const line of lines) {
    if (line === '') {
      if (data.length > 0) yield data.join('\n');
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'data') continue;
    const value = colon < 0 ? '' : line.slice(colon + 1);
    data.push(value.startsWith(' ') ? value.slice(1) : value);
  }
  if (data.length > 0) yield data.join('\n');
}

/**
 * The text an event carries: OpenAI chat-completion chunks (`choices[].delta.content`), completion
 * chunks (`choices[].text`), `{"text": …}` objects, or the data itself when it is not JSON.
 */
export function textOfSSEData(data: string): string {
  const trimmed = data.trim();
  if (!trimmed.startsWith('{')) return data;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return data;
  }
  if (!isRecord(value)) return '';
  if (typeof value.text === 'string') return value.text;
  if (Array.isArray(value.choices)) {
    return value.choices
      .map((choice: unknown) => {
        if (!isRecord(choice)) return '';
        if (isRecord(choice.delta) && typeof choice.delta.content === 'string') return choice.delta.content;
        return typeof choice.text === 'string' ? choice.text : '';
      })
      .join('');
  }
  return '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
