// A throwaway CA and a server certificate for 127.0.0.1 (and localhost), made with openssl for one benchmark
// run, the way seed 002 sets up its own CA. Nothing here is kept after the run.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireCommand, runOk } from '../test/helpers/processes.js';

/** The files of one generated certificate pair, and the CA that signed it. */
export interface BenchCertificates {
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
  /** What the pair is, for the report's header. */
  description: string;
}

/**
 * Makes, in `dir`, a CA (ECDSA P-256, 2 days) and a server certificate signed by it with SANs IP:127.0.0.1 and
 * DNS:localhost. P-256 because that is what a new setup would choose; with keep-alive clients the handshake is
 * paid once per connection and the key type hardly shows in the figures.
 */
export async function makeCertificates(dir: string): Promise<BenchCertificates> {
  const openssl = requireCommand('openssl', 'apt-get install openssl');
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const extensions = join(dir, 'server.ext');
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runOk(openssl, ['req', '-x509', ...curve, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=quayside bench CA']);
  await runOk(openssl, ['req', ...curve, '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1']);
  await writeFile(
    extensions,
    ['subjectAltName = IP:127.0.0.1, DNS:localhost', 'basicConstraints = CA:FALSE', 'keyUsage = digitalSignature', 'extendedKeyUsage = serverAuth', ''].join('\n'),
  );
  await runOk(openssl, ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extensions]);
  return { caFile, caPem: await readFile(caFile, 'utf8'), certFile, keyFile, description: 'ECDSA P-256 server certificate (SAN IP:127.0.0.1) from a CA made for the run' };
}
