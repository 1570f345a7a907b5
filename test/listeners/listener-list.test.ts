import { describe, expect, it } from 'vitest';
import type { Listener } from '../../worker/listeners/listener.ts';
import { ListenerList } from '../../worker/listeners/listener-list.ts';

const listener = (id: string) => ({ id, place: -1 }) as Listener;

describe('ListenerList', () => {
  it('holds each listener once, and forgets the ones removed', () => {
    const list = new ListenerList();
    const [a, b, c] = [listener('a'), listener('b'), listener('c')];
    list.add(a);
    list.add(b);
    list.add(b);
    list.add(c);
    expect(list.size).toBe(3);
    expect(list.delete(a)).toBe(true);
    expect(list.delete(a)).toBe(false);
    expect([list.has(a), list.has(b), list.has(c)]).toEqual([false, true, true]);
    expect(new Set(list)).toEqual(new Set([b, c]));
  });

  it('visits every listener once while the one being visited is removed', () => {
    const list = new ListenerList();
    const all = Array.from({ length: 6 }, (_, i) => listener(String(i)));
    for (const l of all) list.add(l);
    const visited: Listener[] = [];
    for (const l of list) {
      visited.push(l);
      if (Number(l.id) % 2 === 0) list.delete(l);
    }
    expect(new Set(visited)).toEqual(new Set(all));
    expect(visited).toHaveLength(6);
    expect(new Set(list)).toEqual(new Set(all.filter((l) => Number(l.id) % 2 === 1)));
  });

  it('a listener moves between lists, as it moves between channels', () => {
    const [first, second] = [new ListenerList(), new ListenerList()];
    const [a, b] = [listener('a'), listener('b')];
    first.add(a);
    first.add(b);
    first.delete(a);
    second.add(a);
    expect([first.has(a), second.has(a), first.has(b)]).toEqual([false, true, true]);
  });
});
