/** CRC-32C (Castagnoli), the checksum of PP2_TYPE_CRC32C. */

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The CRC-32C of `bytes`, reading the 4 bytes at `zeroFrom` (if given) as zeros. */
export function crc32c(bytes: Uint8Array, zeroFrom?: number): number {
  const zeroStart = zeroFrom ?? bytes.length;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    const byte = i >= zeroStart && i < zeroStart + 4 ? 0 : bytes[i]!;
    crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
