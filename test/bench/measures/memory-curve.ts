/**
 * Memory growth curve: RSS and JS heap per idle listener at each listener count, the relay against a bare
 * WebSocket server on the same runtime holding the same sockets. Each round starts a fresh relay and a fresh
 * bare server (alternating which goes first), connects the listeners and reads both after a full GC.
 */
import type { Runtime } from '../child-process.ts';
import type { Usage } from '../control.ts';
import type { BenchContext } from '../context.ts';
import { type Comparison, compare, interleave } from '../interleave.ts';
import type { Curve } from '../plot.ts';
import { comparedRow, type Row } from '../report.ts';
import { startSwarm } from './fan-out.ts';
import { bareGrowth, relayGrowth } from './memory.ts';

export interface MemoryCurvePlan {
  steps: number[];
  rounds: number;
}

export interface MemoryCurveStep {
  listeners: number;
  rss: Comparison;
  heap: Comparison;
}

export interface MemoryCurveResult {
  runtime: Runtime;
  steps: MemoryCurveStep[];
}

/** The bound for every figure: within 1.1× of the baseline. */
const MEMORY_LIMIT = 1.1;

export async function measureMemoryCurve(ctx: BenchContext, runtime: Runtime, plan: MemoryCurvePlan): Promise<MemoryCurveResult> {
  const swarm = await startSwarm();
  const steps: MemoryCurveStep[] = [];
  try {
    for (const listeners of plan.steps) {
      if (ctx.outOfTime()) break;
      const heaps: Array<{ relay?: number; baseline?: number }> = [];
      const perListener = (g: { before: Usage; after: Usage }, field: keyof Usage) => (g.after[field] - g.before[field]) / listeners / 1024;
      const pairs = await interleave(
        plan.rounds,
        async (round) => {
          const g = await relayGrowth(ctx, runtime, swarm, ['/v1/streams/idle/listen'], listeners);
          (heaps[round] ??= {}).relay = perListener(g, 'heapUsedBytes');
          return perListener(g, 'anonRssBytes');
        },
        async (round) => {
          const g = await bareGrowth(ctx, runtime, swarm, listeners);
          (heaps[round] ??= {}).baseline = perListener(g, 'heapUsedBytes');
          return perListener(g, 'anonRssBytes');
        },
      );
      const rss = compare(pairs, 'ratio', MEMORY_LIMIT);
      const heap = compare(
        pairs.map((p, i) => ({ relay: heaps[i]!.relay!, baseline: heaps[i]!.baseline!, load: p.load })),
        'ratio',
        null,
      );
      ctx.log(`  memory (${runtime}) ${listeners} idle listeners: relay ${rss.relay.median.toFixed(1)} KiB RSS each, bare ${rss.baseline.median.toFixed(1)}; heap ${heap.relay.median.toFixed(1)} vs ${heap.baseline.median.toFixed(1)} KiB`);
      steps.push({ listeners, rss, heap });
    }
  } finally {
    await swarm.child.stop();
  }
  return { runtime, steps };
}

export function memoryCurveRows(result: MemoryCurveResult): Row[] {
  const baselineName = result.runtime === 'bun' ? 'bare Bun.serve' : 'bare ws server';
  return result.steps.flatMap((step) => {
    const n = step.listeners.toLocaleString('en-US');
    return [
      comparedRow({ item: 3, figure: `RSS per idle listener, ${n} on one stream (${result.runtime})`, unit: 'KiB', baselineName, target: `≤ ${MEMORY_LIMIT}× baseline` }, step.rss),
      comparedRow({ item: 3, figure: `JS heap per idle listener, ${n} (${result.runtime})`, unit: 'KiB', baselineName }, step.heap),
    ];
  });
}

export function memoryCurve(results: MemoryCurveResult[]): Curve {
  const series = results.flatMap((r) => {
    const side = (pick: 'relay' | 'baseline') => r.steps.map((s) => ({ x: s.listeners, y: s.rss[pick].median, lo: s.rss[pick].min, hi: s.rss[pick].max }));
    return [
      { name: `relay (${r.runtime})`, points: side('relay') },
      { name: r.runtime === 'bun' ? 'bare Bun.serve' : 'bare ws server', points: side('baseline') },
    ];
  });
  return { id: 'memory', title: 'RSS per idle listener, relay vs bare server', xLabel: 'idle listeners', yLabel: 'KiB RSS per listener', series };
}
