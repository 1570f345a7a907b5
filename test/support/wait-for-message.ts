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
      reject(new Error(`no matching ${what} within ${ms} ms; got ${messages.map((m) => m.type).join(', ')}`));
    }, ms);
    watchers.add(check);
    check();
  });
}
