/** Human formatting of the numbers `check` and `plan` print: bytes, counts, durations, dollars. */

/** 512 B, 1.5 KB, 3.2 MB, 1.1 GB (binary units, as DynamoDB counts item sizes). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** 1,234,567 */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** 45 s, 12 min 5 s, 3 h 20 min, 2 d 4 h */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`;
}

/** $0.0012, $1.23, $1,234.57: enough digits that small costs are not shown as $0.00. */
export function formatUsd(usd: number): string {
  if (usd > 0 && usd < 0.01) return `$${usd.toPrecision(2)}`;
  return `$${usd.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
