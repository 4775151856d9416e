import assert from 'node:assert/strict';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { caListWith, ExtraCaError, loadExtraCaCertificates } from '../../src/net/extra-ca.js';
import { makePki, run, tempDir } from './fixtures.js';

describe('extra_ca_certs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let inter: string;
  before(async () => {
    dir = await tempDir();
    const pki = await makePki(dir.path);
    root = pki.caCert;
    inter = await readFile(join(dir.path, 'inter.crt'), 'utf8');
  });
  after(async () => dir?.remove());

  it('reads every .crt and .pem (several certificates per file, DER too) in name order and ignores other files', async () => {
    const cas = join(dir.path, 'ok');
    await mkdir(cas);
    await writeFile(join(cas, 'b-bundle.pem'), root + inter);
    await run('openssl', ['x509', '-in', join(dir.path, 'root.crt'), '-outform', 'DER', '-out', join(cas, 'a-der.crt')]);
    await writeFile(join(cas, 'README.txt'), 'not a certificate');
    const loaded = await loadExtraCaCertificates(cas);
    assert.deepEqual(loaded.files, ['a-der.crt', 'b-bundle.pem']);
    assert.equal(loaded.certificates.length, 3);
    assert.equal(loaded.certificates[0]!.trim(), root.trim());
    assert.equal(loaded.certificates[2]!.trim(), inter.trim());
    const list = caListWith(loaded.certificates);
    assert.equal(list.length, rootCertificates.length + 3);
  });

  it('a missing directory means no extra CAs', async () => {
    assert.deepEqual(await loadExtraCaCertificates(join(dir.path, 'absent')), { certificates: [], files: [] });
  });

  it('an invalid or unreadable file is one line naming it', async () => {
    const cas = join(dir.path, 'bad');
    await mkdir(cas);
    await writeFile(join(cas, 'corp.crt'), `${root}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    await assert.rejects(loadExtraCaCertificates(cas), (e: unknown) => e instanceof ExtraCaError && /^extra_ca_certs\/corp\.crt: certificate 2 is not valid/.test(e.message) && !e.message.includes('\n'));
    await writeFile(join(cas, 'corp.crt'), 'hello');
    await assert.rejects(loadExtraCaCertificates(cas), /^ExtraCaError: extra_ca_certs\/corp\.crt: holds no PEM certificate and is not a DER certificate$|extra_ca_certs\/corp\.crt: holds no PEM certificate/);
    await writeFile(join(cas, 'corp.crt'), root);
    await writeFile(join(cas, 'empty.pem'), '');
    await assert.rejects(loadExtraCaCertificates(cas), /extra_ca_certs\/empty\.pem: holds no PEM certificate/);
    await rm(join(cas, 'empty.pem'));
    await symlink(join(dir.path, 'no-such-file'), join(cas, 'gone.pem'));
    await assert.rejects(loadExtraCaCertificates(cas), /^ExtraCaError: extra_ca_certs\/gone\.pem: cannot read it: ENOENT/);
  });
});
