/** Pure formatting of what the API returns, for people. */

/** 1536 -> "1.5 KiB"; registries count in binary units, as docker and skopeo print them. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** Seconds since the epoch -> a local date and time, e.g. "2026-12-03 09:14". */
export function formatEpoch(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const date = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Quay's RFC 2822 dates ("Thu, 03 Dec 2026 09:14:00 -0000") -> the same local format. */
export function formatQuayDate(value: string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : formatEpoch(ms / 1000);
}

/** "sha256:abcdef..." -> "sha256:abcdef012345" (12 hex digits, as docker shows image ids). */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest.slice(0, 19) : `${digest.slice(0, colon)}:${digest.slice(colon + 1, colon + 13)}`;
}

/** The `docker pull` command of a tag (or digest) on this registry's host. */
export function pullCommand(host: string, repository: string, reference: string): string {
  const separator = reference.includes(':') ? '@' : ':';
  return `docker pull ${host}/${repository}${separator}${reference}`;
}

/** An OCI platform {os, architecture, variant} -> "linux/arm64/v8". */
export function platformName(platform: { os?: string; architecture?: string; variant?: string } | undefined): string {
  if (platform === undefined) return 'unknown';
  return [platform.os ?? '?', platform.architecture ?? '?', ...(platform.variant ? [platform.variant] : [])].join('/');
}
