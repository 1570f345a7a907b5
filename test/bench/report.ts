/** The bench's results: one row per figure (relay, baseline, ratio, target), printed as a table and kept as JSON. */
import { type Comparison, roundFigure, spreadOf, type Spread } from './interleave.ts';

/** met / missed: a single reading against a target; pass / regression / too noisy to call: interleaved rounds. */
export type Verdict = 'met' | 'missed' | 'n/a' | 'pass' | 'regression' | 'too noisy to call';

/** How an interleaved row was measured: the judged figure's spread over its rounds, and the load meanwhile. */
export interface Interleaved {
  rounds: number;
  kind: Comparison['kind'];
  /** The per-round ratio (kind ratio) or relay − baseline (kind difference). */
  spread: Spread;
  load: { min: number; max: number };
  /** A quantile of the samples pooled over the rounds, its spread a bootstrap over rounds (see comparePooledQuantile). */
  pooled?: { relaySamples: number; baselineSamples: number };
}

export interface Row {
  /** Which of the issue's six figures this row belongs to (1–6). */
  item: number;
  figure: string;
  unit: string;
  relay: number | null;
  baseline: number | null;
  baselineName: string;
  /** relay / baseline, when both are there. */
  ratio: number | null;
  target?: string;
  verdict?: Verdict;
  note?: string;
  interleaved?: Interleaved;
}

export function row(fields: Omit<Row, 'ratio'> & { ratio?: number | null }): Row {
  const ratio =
    fields.ratio !== undefined ? fields.ratio : fields.relay !== null && fields.baseline !== null && fields.baseline !== 0 ? fields.relay / fields.baseline : null;
  return { ...fields, ratio };
}

/** A row from interleaved rounds: medians of each side (or pooled quantiles), the median per-round ratio, the spread and verdict. */
export function comparedRow(fields: Omit<Row, 'relay' | 'baseline' | 'ratio' | 'verdict' | 'interleaved'>, comparison: Comparison): Row {
  const ratios = comparison.pooled
    ? { median: comparison.relay.median / comparison.baseline.median }
    : spreadOf(comparison.rounds.map((r) => (comparison.kind === 'ratio' ? roundFigure(r, 'ratio') : r.baseline !== 0 ? r.relay / r.baseline : Number.NaN)));
  return {
    ...fields,
    relay: comparison.relay.median,
    baseline: comparison.baseline.median,
    ratio: Number.isFinite(ratios.median) ? ratios.median : null,
    ...(comparison.verdict ? { verdict: comparison.verdict } : {}),
    interleaved: {
      rounds: comparison.rounds.length,
      kind: comparison.kind,
      spread: comparison.figure,
      load: comparison.load,
      ...(comparison.pooled ? { pooled: { relaySamples: comparison.pooled.relaySamples, baselineSamples: comparison.pooled.baselineSamples } } : {}),
    },
  };
}

export function verdict(met: boolean | null): Verdict {
  return met === null ? 'n/a' : met ? 'met' : 'missed';
}

function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** The judged figure's median, IQR and min–max: "1.12× (IQR 1.08–1.15, 1.02–1.21)", "+0.8 ms (…)". */
export function formatSpread(r: Row): string {
  const i = r.interleaved;
  if (!i) return '';
  const s = i.spread;
  const f = (v: number) => (i.kind === 'ratio' ? `${formatNumber(v)}×` : `${v >= 0 ? '+' : ''}${formatNumber(v)}`);
  if (i.pooled) return `${f(s.median)} pooled over ${i.pooled.relaySamples} + ${i.pooled.baselineSamples} samples (bootstrap over ${i.rounds} rounds: IQR ${f(s.q1)}…${f(s.q3)}; 90% ${f(s.min)}…${f(s.max)})`;
  return `${f(s.median)} (IQR ${f(s.q1)}…${f(s.q3)}; ${f(s.min)}…${f(s.max)}; ${i.rounds} rounds)`;
}

export function formatLoad(r: Row): string {
  return r.interleaved ? `${r.interleaved.load.min.toFixed(1)}–${r.interleaved.load.max.toFixed(1)}` : '';
}

/** A plain-text table, one line per row, columns padded to fit. */
export function formatTable(rows: Row[]): string {
  const header = ['#', 'figure', 'relay', 'baseline', 'ratio', 'unit', 'spread', 'load', 'target', ''];
  const lines = rows.map((r) => [
    String(r.item),
    r.figure,
    formatNumber(r.relay),
    r.baseline === null ? '—' : `${formatNumber(r.baseline)} (${r.baselineName})`,
    r.ratio === null ? '—' : `${formatNumber(r.ratio)}×`,
    r.unit,
    formatSpread(r),
    formatLoad(r),
    r.target ?? '',
    r.verdict && r.verdict !== 'n/a' ? r.verdict : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

/** The same table in Markdown, for the README. */
export function formatMarkdown(rows: Row[]): string {
  const lines = ['| # | figure | relay | baseline | ratio | per-round figure: median (IQR; min…max) | load | target |', '|---|---|---:|---|---:|---|---|---|'];
  for (const r of rows) {
    const target = r.target ? `${r.target}${r.verdict && r.verdict !== 'n/a' ? ` — **${r.verdict}**` : ''}` : '';
    lines.push(
      `| ${r.item} | ${r.figure} (${r.unit}) | ${formatNumber(r.relay)} | ${r.baseline === null ? '—' : `${formatNumber(r.baseline)} (${r.baselineName})`} | ${r.ratio === null ? '—' : `${formatNumber(r.ratio)}×`} | ${formatSpread(r)} | ${formatLoad(r)} | ${target} |`,
    );
  }
  return lines.join('\n');
}
