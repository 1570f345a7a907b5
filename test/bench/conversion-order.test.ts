import { describe, expect, it } from 'vitest';
import { helpersChargedEvenly, roundOrder } from './measures/conversion-sockets.ts';

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

describe('helper threads charged evenly over a server’s windows', () => {
  it('moves helper-thread CPU out of the window it ran in and spreads it by listener-seconds, keeping the total', () => {
    // 100 µs per listener-second on the main thread in each 500 listener-second window; 50 ms of concurrent marking in the second.
    const windows = [
      { cpuUsPerListenerSecond: 100, mainThreadUs: 50_000, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 200, mainThreadUs: 50_000, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 100, mainThreadUs: 50_000, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 100, mainThreadUs: 50_000, listenerSeconds: 500 },
    ];
    const even = helpersChargedEvenly(windows);
    expect(even).toEqual([125, 125, 125, 125]);
    const total = (values: number[]) => values.reduce((n, v, i) => n + v * windows[i]!.listenerSeconds, 0);
    expect(total(even)).toBeCloseTo(total(windows.map((w) => w.cpuUsPerListenerSecond)), 9);
  });

  it('keeps what the main thread did in its own window', () => {
    const windows = [
      { cpuUsPerListenerSecond: 100, mainThreadUs: 50_000, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 200, mainThreadUs: 100_000, listenerSeconds: 500 },
    ];
    expect(helpersChargedEvenly(windows)).toEqual([100, 200]);
  });

  it('leaves the windows as read where the server reported no main-thread CPU', () => {
    const windows = [
      { cpuUsPerListenerSecond: 100, mainThreadUs: Number.NaN, listenerSeconds: 500 },
      { cpuUsPerListenerSecond: 200, mainThreadUs: 50_000, listenerSeconds: 500 },
    ];
    expect(helpersChargedEvenly(windows)).toEqual([100, 200]);
  });
});
