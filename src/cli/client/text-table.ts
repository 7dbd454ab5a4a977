export interface TableOptions {
  /** Total width to fit in (the last column is truncated to fit); none = no limit. */
  width?: number;
  /** Per-column maximum widths (truncated with …). */
  maxWidths?: readonly (number | undefined)[];
  /** Spaces between columns (default 2). */
  gap?: number;
}

/** Cuts text to `max` characters, marking the cut with …. */
export function truncate(text: string, max: number): string {
  if (max <= 0) return '';
  if (text.length <= max) return text;
  if (max === 1) return '…';
  return `${text.slice(0, max - 1)}…`;
}

/** One line of text: newlines and tabs become spaces so a cell never breaks the table. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Aligned columns under upper-case headers, like kubectl. Cells are made one-line; columns are
 * capped by `maxWidths`; the last column is cut to fit `width`.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const gap = options.gap ?? 2;
  const cells = [headers.map((h) => h), ...rows.map((r) => headers.map((_, i) => oneLine(r[i] ?? '')))];
  const cols = headers.length;
  const widths: number[] = [];
  for (let c = 0; c < cols; c++) {
    const max = options.maxWidths?.[c];
    let w = 0;
    for (const row of cells) w = Math.max(w, row[c]!.length);
    widths.push(max !== undefined ? Math.min(w, Math.max(max, headers[c]!.length)) : w);
  }
  if (options.width !== undefined && cols > 0) {
    const before = widths.slice(0, -1).reduce((a, b) => a + b + gap, 0);
    const room = Math.max(options.width - before, headers[cols - 1]!.length, 10);
    widths[cols - 1] = Math.min(widths[cols - 1]!, room);
  }
  return cells
    .map((row) =>
      row
        .map((cell, c) => {
          const text = truncate(cell, widths[c]!);
          return c === cols - 1 ? text : text.padEnd(widths[c]!);
        })
        .join(' '.repeat(gap))
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}
