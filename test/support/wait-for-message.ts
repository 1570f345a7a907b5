/** Waits for a message a socket has received or will receive: the first match, or an error naming what came instead. */
export function waitForMessage<T extends { type: string }>(
  messages: T[],
  watchers: Set<() => void>,
  predicate: (message: T) => boolean,
  ms: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = messages.find(predicate);
      if (!found) return;
      clearTimeout(timer);
      watchers.delete(check);
      resolve(found);
    };
    const timer = setTimeout(() => {
      watchers.delete(check);
      reject(new Error(`no matching ${what} within ${ms} ms; got ${describeReceived(messages)}`));
    }, ms);
    watchers.add(check);
    check();
  });
}

/** What a socket received, for a failure message: runs of one type counted, errors and ends in full. */
export function describeReceived(messages: { type: string }[]): string {
  const parts: string[] = [];
  let run = 0;
  messages.forEach((message, i) => {
    run += 1;
    if (message.type === messages[i + 1]?.type && !TELLING.has(message.type)) return;
    parts.push(TELLING.has(message.type) ? JSON.stringify(message) : run > 1 ? `${message.type} ×${run}` : message.type);
    run = 0;
  });
  return parts.join(', ') || 'nothing';
}

const TELLING = new Set(['error', 'utterance_end']);
