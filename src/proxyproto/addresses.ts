/** Strict IPv4/IPv6 text parsing and canonical formatting for PROXY headers (pure, no DNS). */

/** The 4 bytes of a dotted-quad IPv4 address, or null. Leading zeros are refused (they read as octal elsewhere). */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/** The 16 bytes of an IPv6 address in any RFC 4291 text form (no zone id), or null. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  let head = text;
  let tail = '';
  const elided = text.indexOf('::');
  if (elided >= 0) {
    if (text.indexOf('::', elided + 1) >= 0) return null;
    head = text.slice(0, elided);
    tail = text.slice(elided + 2);
  }
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const lastGroups = elided >= 0 ? tailGroups : headGroups;
  let embeddedV4: Uint8Array | null = null;
  const last = lastGroups[lastGroups.length - 1];
  if (last !== undefined && last.includes('.')) {
    embeddedV4 = parseIpv4(last);
    if (!embeddedV4) return null;
    lastGroups.pop();
  }
  const parseGroups = (groups: string[]): boolean => {
    for (const group of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
      words.push(parseInt(group, 16));
    }
    return true;
  };
  const available = embeddedV4 ? 6 : 8;
  if (!parseGroups(headGroups)) return null;
  const headCount = words.length;
  if (!parseGroups(tailGroups)) return null;
  const tailCount = words.length - headCount;
  if (elided >= 0) {
    // "::" stands for at least one zero group.
    if (headCount + tailCount > available - 1) return null;
    words.splice(headCount, 0, ...new Array<number>(available - headCount - tailCount).fill(0));
  } else if (words.length !== available) {
    return null;
  }
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  if (embeddedV4) bytes.set(embeddedV4, 12);
  return bytes;
}

/** Dotted quad of 4 bytes. */
export function formatIpv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text of 16 bytes: lower case, longest zero run (of two or more) elided, IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes.subarray(12))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
