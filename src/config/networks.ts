import { BlockList, isIP } from 'node:net';

/** One network of a CIDR list: address, prefix length and family. */
export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "fd00::/8", or a bare address (its own /32 or /128); undefined when malformed. */
export function parseNetwork(text: string): Network | undefined {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The IPv4 address inside an IPv4-mapped IPv6 one (::ffff:10.0.0.1), as dual-stack sockets report it. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? match[1]! : address;
}

/** A set of networks; `has(address)` answers for IPv4, IPv6 and IPv4-mapped IPv6 addresses. */
export class NetworkList {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(networks: readonly string[]) {
    let size = 0;
    for (const text of networks) {
      const network = parseNetwork(text);
      if (network === undefined) throw new Error(`not a network: ${JSON.stringify(text)}`);
      this.list.addSubnet(network.address, network.prefix, network.family);
      size += 1;
    }
    this.size = size;
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const plain = unmapped(address);
    const version = isIP(plain);
    if (version === 0) return false;
    return this.list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  }
}
