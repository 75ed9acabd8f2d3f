/** Printing helpers: human text on stdout, progress on stderr, JSON when asked. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A one-line progress bar on stderr (only when stderr is a terminal). */
export function progressLine(label: string, done: number, total: number, startedAt: number): void {
  if (!process.stderr.isTTY) return;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const width = 30;
  const filled = Math.round(ratio * width);
  const elapsed = (Date.now() - startedAt) / 1000;
  const rate = elapsed > 0 ? done / elapsed : 0;
  const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
  process.stderr.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${rate.toFixed(0)}/s ETA ${eta.toFixed(0)}s `);
  if (done >= total) process.stderr.write("\n");
}

/** Formats rows as an aligned text table. */
export function table(rows: (string | number)[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, String(cell).length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => String(cell).padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
