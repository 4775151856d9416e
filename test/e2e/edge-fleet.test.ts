// Two `quayside serve --config-dir` instances behind `quayside lb` in mode tcp with send_proxy_v2 to their PROXY
// ports: TLS passes through the balancer and ends in the instances, health checks carry the PROXY header too,
// skopeo pushes and pulls through it, and the audit log records each client's own loopback address (the PROXY
// header's), not the balancer's. (podman, docker, curl and the login throttle: edge-clients.test.ts.)
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { buildUmociImage, readLayoutImage } from '../helpers/oci-images.js';
import { requireCommand, runOk } from '../helpers/processes.js';
import { startTlsFleet, type TlsFleet } from '../helpers/tls-fleet.js';
import { waitFor } from '../net/fixtures.js';

const USER = { username: 'fleet', password: 'fleet-password-0123456789' };

/** A login (GET /v2/auth with Basic credentials) through the balancer from `localAddress`. */
function loginFrom(port: number, localAddress: string, ca: string): Promise<number> {
  const basic = Buffer.from(`${USER.username}:${USER.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', servername: 'localhost', port, path: '/v2/auth', localAddress, ca, agent: false, headers: { host: `localhost:${port}`, authorization: `Basic ${basic}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('serve instances behind quayside lb, PROXY v2 then TLS', { timeout: 300_000 }, () => {
  let fleet: TlsFleet;

  before(async () => {
    const skopeo = requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    fleet = await startTlsFleet(USER, 'quayside-e2e-edge-');
    await runOk(skopeo, ['login', '--authfile', join(fleet.work.path, 'auth.json'), '--cert-dir', fleet.certDir, '-u', USER.username, '--password-stdin', fleet.registry], { input: `${USER.password}\n`, timeoutMs: 60_000 });
  });

  after(async () => {
    await fleet?.stop();
  });

  it('copies an image in and out with skopeo through the balancer', async () => {
    const { certDir, work } = fleet;
    const authFile = join(work.path, 'auth.json');
    const image = await buildUmociImage(join(work.path, 'img'), 'v1', 64 * 1024);
    const ref = `docker://${fleet.registry}/${USER.username}/app:v1`;
    await runOk('skopeo', ['copy', '--authfile', authFile, '--dest-cert-dir', certDir, `oci:${image.dir}:v1`, ref], { timeoutMs: 120_000 });
    await runOk('skopeo', ['copy', '--authfile', authFile, '--src-cert-dir', certDir, ref, `oci:${join(work.path, 'out')}:v1`], { timeoutMs: 120_000 });
    assert.equal((await readLayoutImage(join(work.path, 'out'), 'v1')).manifest.digest, image.manifest.digest);
  });

  it('audits each client by its own address from the PROXY header', async () => {
    for (const address of ['127.0.0.2', '127.0.0.3']) assert.equal(await loginFrom(fleet.lbPort, address, fleet.pki.caCert), 200);
    const logins = await waitFor('login rows of three distinct clients', async () => {
      const rows = await sql<{ client_address: string }>`select distinct client_address from audit_log where kind = 'login_success'`.execute(fleet.database.database.db);
      const addresses = rows.rows.map((row) => row.client_address).sort();
      return ['127.0.0.1', '127.0.0.2', '127.0.0.3'].every((a) => addresses.includes(a)) ? addresses : undefined;
    });
    assert.deepEqual(logins, ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  });
});
