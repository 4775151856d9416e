/** What a PROXY protocol header says about a connection (v1 and v2, https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt). */

export interface IpEndpoint {
  /** Canonical text form: dotted quad for IPv4, RFC 5952 compressed lower case for IPv6. */
  address: string;
  port: number;
}

/** The addresses of the proxied connection, when the sender gave them. */
export type ProxyAddresses =
  | { family: 'inet' | 'inet6'; transport: 'stream' | 'dgram'; source: IpEndpoint; destination: IpEndpoint }
  | { family: 'unix'; transport: 'stream' | 'dgram'; source: string; destination: string };

/** PP2_TYPE_SSL: how the client reached the sender (the balancer terminated TLS). */
export interface SslTlv {
  /** The client connected over TLS (PP2_CLIENT_SSL). */
  clientSsl: boolean;
  /** The client presented a certificate on this connection (PP2_CLIENT_CERT_CONN). */
  clientCertConnection: boolean;
  /** The client presented a certificate at least once in this TLS session (PP2_CLIENT_CERT_SESS). */
  clientCertSession: boolean;
  /** The `verify` field is 0: the client certificate, if any, was verified. */
  verified: boolean;
  version?: string;
  commonName?: string;
  cipher?: string;
  signatureAlgorithm?: string;
  keyAlgorithm?: string;
  /** Sub-TLVs of types this parser does not name. */
  others: RawTlv[];
}

export interface RawTlv {
  type: number;
  value: Buffer;
}

/** The TLVs of a v2 header (a v1 header has none). Each named TLV appears at most once. */
export interface ProxyTlvs {
  /** PP2_TYPE_ALPN: the protocol the client negotiated with the sender, e.g. "h2". */
  alpn?: string;
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI). */
  authority?: string;
  /** PP2_TYPE_CRC32C: present only when it matched the header. */
  crc32c?: number;
  /** PP2_TYPE_UNIQUE_ID: an opaque connection id of at most 128 bytes. */
  uniqueId?: Buffer;
  ssl?: SslTlv;
  /** PP2_TYPE_NETNS: the sender's network namespace name. */
  netns?: string;
  /** PP2_TYPE_AWS / PP2_SUBTYPE_AWS_VPCE_ID: the AWS PrivateLink VPC endpoint id. */
  awsVpcEndpointId?: string;
  /** TLVs of other types (custom, experimental, future), in order. NOOP padding is dropped. */
  others: RawTlv[];
}

export interface ProxyHeader {
  version: 1 | 2;
  /** `local`: the sender's own connection (a balancer's health check); use the socket's addresses. */
  command: 'proxy' | 'local';
  /** null when the header carries no usable addresses (v1 UNKNOWN, v2 LOCAL or AF_UNSPEC): use the socket's. */
  addresses: ProxyAddresses | null;
  tlvs: ProxyTlvs;
}

/** The answer for the bytes received so far on a connection. */
export type ProxyParseResult =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  /** `length` bytes are the header; whatever follows belongs to the proxied stream. */
  | { status: 'complete'; length: number; header: ProxyHeader };

export interface ProxyParseOptions {
  /** Largest v2 payload (addresses + TLVs) accepted, in bytes; default 4096, at most 65535. */
  maxV2PayloadLength?: number;
}
