import { describe, expect, it } from 'vitest';
import { gcChargedEvenly, roundOrder } from './measures/conversion-sockets.ts';

describe('conversion rounds', () => {
  it('cancels a load that drifts steadily through a round from every converted path over the native one', () => {
    const converted = ['s16', 'mulaw'];
    for (let round = 0; round < 8; round++) {
      const order = roundOrder(round, 'native', converted, ['relay', 'bare'] as const);
      // Each window reads the same true cost, scaled by a load that grows 10% a window.
      const reading = new Map<string, number>();
      let t = 0;
      for (const format of order.formats) for (const side of order.sides) reading.set(`${side} ${format}`, 100 * 1.1 ** t++);
      expect(reading.size).toBe(6);
      for (const format of converted) {
        const path = (f: string) => reading.get(`relay ${f}`)! / reading.get(`bare ${f}`)!;
        expect(path(format) / path('native')).toBeCloseTo(1, 9);
      }
    }
  });

  it('alternates which side and which converted format come first', () => {
    const orders = [0, 1, 2, 3].map((round) => roundOrder(round, 'n', ['a', 'b'], ['relay', 'bare'] as const));
    expect(orders.map((o) => o.formats.join(''))).toEqual(['anb', 'anb', 'bna', 'bna']);
    expect(orders.map((o) => o.sides[0])).toEqual(['relay', 'bare', 'relay', 'bare']);
  });
});

describe('GC charged evenly over a server’s windows', () => {
  it('moves a collection’s pause out of the window it fell in and spreads it by listener-seconds, keeping the total', () => {
    // 100 µs per listener-second of work in each 500 listener-second window; a 50 ms collection fell in the second.
    const windows = [
      { cpuUsPerListenerSecond: 100, gcUs: 0, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 200, gcUs: 50_000, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 100, gcUs: 0, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 100, gcUs: 0, listenerSeconds: 500 },
    ];
    const even = gcChargedEvenly(windows);
    expect(even).toEqual([125, 125, 125, 125]);
    const total = (values: number[]) => values.reduce((n, v, i) => n + v * windows[i]!.listenerSeconds, 0);
    expect(total(even)).toBeCloseTo(total(windows.map((w) => w.cpuUsPerListenerSecond)), 9);
  });

  it('leaves the windows as read where the server reported no GC time', () => {
    const windows = [
      { cpuUsPerListenerSecond: 100, gcUs: Number.NaN, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 200, gcUs: 50_000, listenerSeconds: 500 },
    ];
    expect(gcChargedEvenly(windows)).toEqual([100, 200]);
  });
});
