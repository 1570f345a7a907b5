/** The bench's results: one row per figure (relay, baseline, ratio, target), printed as a table and kept as JSON. */

export type Verdict = 'met' | 'missed' | 'n/a';

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
}

export function row(fields: Omit<Row, 'ratio'> & { ratio?: number | null }): Row {
  const ratio =
    fields.ratio !== undefined ? fields.ratio : fields.relay !== null && fields.baseline !== null && fields.baseline !== 0 ? fields.relay / fields.baseline : null;
  return { ...fields, ratio };
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

/** A plain-text table, one line per row, columns padded to fit. */
export function formatTable(rows: Row[]): string {
  const header = ['#', 'figure', 'relay', 'baseline', 'ratio', 'unit', 'target', ''];
  const lines = rows.map((r) => [
    String(r.item),
    r.figure,
    formatNumber(r.relay),
    r.baseline === null ? '—' : `${formatNumber(r.baseline)} (${r.baselineName})`,
    r.ratio === null ? '—' : `${formatNumber(r.ratio)}×`,
    r.unit,
    r.target ?? '',
    r.verdict && r.verdict !== 'n/a' ? r.verdict : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

/** The same table in Markdown, for the README. */
export function formatMarkdown(rows: Row[]): string {
  const lines = ['| # | figure | relay | baseline | ratio | target |', '|---|---|---:|---|---:|---|'];
  for (const r of rows) {
    const target = r.target ? `${r.target}${r.verdict && r.verdict !== 'n/a' ? ` — **${r.verdict}**` : ''}` : '';
    lines.push(
      `| ${r.item} | ${r.figure} (${r.unit}) | ${formatNumber(r.relay)} | ${r.baseline === null ? '—' : `${formatNumber(r.baseline)} (${r.baselineName})`} | ${r.ratio === null ? '—' : `${formatNumber(r.ratio)}×`} | ${target} |`,
    );
  }
  return lines.join('\n');
}
