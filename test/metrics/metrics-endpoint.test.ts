// /metrics on --metrics-port: known traffic against two worker processes, then the scrape parsed with a
// Prometheus text parser and each figure checked as the sum over the workers; and the endpoint's own answers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { TAIL_BYTES } from '../../src/http/file-body.js';
import { cutAfterFirstBytes, requestOnFreshConnection as once } from '../helpers/fresh-connection.js';
import { parsePrometheusText, sampleValue, type MetricFamily } from '../helpers/prometheus-text.js';
import { E2E_USER, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

const MANIFEST_ROUTE = '/v2/<name>/manifests/<reference>';
const BLOB_ROUTE = '/v2/<name>/blobs/<digest>';

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const answer = await once(url);
  assert.equal(answer.status, 200, answer.body.toString());
  assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(answer.body.toString());
}

for (const workers of ['2', '1']) {
  describe(`/metrics of serve --workers ${workers}`, { timeout: 120_000 }, () => {
    let server: RegistryServer;
    let metricsUrl: string;

    before(async () => {
      server = await startQuayside({ serveArgs: ['--workers', workers, '--metrics-port', '0'] });
      const line = await server.process.waitForLine(/quayside metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
      metricsUrl = line.replace(/.* on /, '');
    });
    after(async () => server?.stop());

    it('counts requests by route and status, blob bytes both ways, logins and queries, summed over the workers', async () => {
      const repository = `${E2E_USER.username}/metered`;
      const headers = await authHeaders(server, pushScope(repository));
      for (let i = 0; i < 3; i++) assert.equal((await once(`${server.url}/v2/`)).status, 401);

      const layer = randomBytes(1024 * 1024 + 17);
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      for (const blob of [layer, config]) {
        const pushed = await once(`${server.url}/v2/${repository}/blobs/uploads/?digest=${sha256(blob)}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
        assert.equal(pushed.status, 201, pushed.body.toString());
      }
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
      }));
      const put = await once(`${server.url}/v2/${repository}/manifests/v1`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
      assert.equal(put.status, 201, put.body.toString());
      for (let i = 0; i < 3; i++) {
        assert.equal((await once(`${server.url}/v2/${repository}/manifests/v1`, { headers: { ...headers, accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
      }
      for (let i = 0; i < 2; i++) {
        const pulled = await once(`${server.url}/v2/${repository}/blobs/${sha256(layer)}`, { headers });
        assert.equal(pulled.status, 200);
        assert.equal(pulled.body.length, layer.length);
      }
      const wrong = await once(`${server.url}/v2/auth?scope=repository:${repository}:pull`, { headers: { authorization: `Basic ${Buffer.from(`${E2E_USER.username}:not-the-password`).toString('base64')}` } });
      assert.equal(wrong.status, 401);

      const families = await scrape(metricsUrl);
      assert.equal(families.get('quayside_http_requests_total')?.type, 'counter');
      assert.equal(sampleValue(families, 'quayside_http_requests_total', { method: 'GET', route: '/v2/', status: '401' }), 3);
      assert.equal(sampleValue(families, 'quayside_http_requests_total', { method: 'GET', route: MANIFEST_ROUTE, status: '200' }), 3);
      assert.equal(sampleValue(families, 'quayside_http_requests_total', { method: 'PUT', route: MANIFEST_ROUTE, status: '201' }), 1);
      assert.equal(sampleValue(families, 'quayside_http_requests_total', { method: 'GET', route: BLOB_ROUTE, status: '200' }), 2);
      assert.equal(families.get('quayside_http_request_duration_seconds')?.type, 'histogram');
      assert.equal(sampleValue(families, 'quayside_http_request_duration_seconds_count', { method: 'GET', route: MANIFEST_ROUTE }), 3);
      assert.equal(sampleValue(families, 'quayside_http_request_duration_seconds_bucket', { method: 'GET', route: MANIFEST_ROUTE, le: '+Inf' }), 3);
      assert.equal(sampleValue(families, 'quayside_registry_blob_bytes_pushed_total'), layer.length + config.length);
      assert.equal(sampleValue(families, 'quayside_registry_blob_bytes_pulled_total'), 2 * layer.length);
      // Plain HTTP from local storage: each worker sent the pulls it served with sendfile (the socket the
      // primary handed over has its own descriptor there).
      assert.equal(sampleValue(families, 'quayside_registry_blob_sendfile_responses_total'), 2);
      assert.equal(sampleValue(families, 'quayside_registry_blob_sendfile_bytes_total'), 2 * (layer.length - TAIL_BYTES));
      assert.equal(sampleValue(families, 'quayside_registry_uploads_in_progress'), 0);
      assert.equal(sampleValue(families, 'quayside_login_failures_total', { reason: 'invalid' }), 1);
      assert.equal(sampleValue(families, 'quayside_logins_throttled_total'), 0);
      assert.ok((sampleValue(families, 'quayside_db_query_duration_seconds_count') ?? 0) > 10, 'queries are timed');
      assert.equal(sampleValue(families, 'quayside_db_query_failures_total'), 0);
      assert.equal(sampleValue(families, 'quayside_db_pool_connections'), 0, 'SQLite has no pool');
      assert.ok((sampleValue(families, 'quayside_process_resident_memory_bytes') ?? 0) > 10 * 1024 * 1024);
    });

    it('counts a pull the client cut mid-blob as cut, with the bytes that went out', async () => {
      const repository = `${E2E_USER.username}/cut-pull`;
      const headers = await authHeaders(server, pushScope(repository));
      // Far more than the loopback socket buffers hold, so the client can leave with most of it unsent.
      const blob = randomBytes(64 * 1024 * 1024);
      const pushed = await once(`${server.url}/v2/${repository}/blobs/uploads/?digest=${sha256(blob)}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
      assert.equal(pushed.status, 201, pushed.body.toString());
      const before = await scrape(metricsUrl);
      const pulledBefore = sampleValue(before, 'quayside_registry_blob_bytes_pulled_total') ?? 0;
      const completeBefore = sampleValue(before, 'quayside_http_requests_total', { method: 'GET', route: BLOB_ROUTE, status: '200' }) ?? 0;

      const cut = await cutAfterFirstBytes(`${server.url}/v2/${repository}/blobs/${sha256(blob)}`, headers);
      assert.equal(cut.status, 200);
      let families = before;
      await waitUntil('the cut pull to be counted', async () => {
        families = await scrape(metricsUrl);
        return sampleValue(families, 'quayside_http_responses_cut_total', { method: 'GET', route: BLOB_ROUTE }) === 1;
      }, 30_000, 100);
      assert.equal(families.get('quayside_http_responses_cut_total')?.type, 'counter');
      // Counted among the requests with the status it was answered with, like any other.
      assert.equal(sampleValue(families, 'quayside_http_requests_total', { method: 'GET', route: BLOB_ROUTE, status: '200' }), completeBefore + 1);
      const sent = (sampleValue(families, 'quayside_registry_blob_bytes_pulled_total') ?? 0) - pulledBefore;
      assert.ok(sent >= cut.received && sent < blob.length, `bytes counted for the cut pull: ${sent} of ${blob.length}, ${cut.received} received`);
    });

    it('answers 404 off /metrics, and HEAD without a body', async () => {
      const other = await once(metricsUrl.replace('/metrics', '/'));
      assert.equal(other.status, 404);
      assert.match(other.body.toString(), /metrics are at GET \/metrics/);
      const head = await once(metricsUrl, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      const post = await once(metricsUrl, { method: 'POST' });
      assert.equal(post.status, 404);
    });
  });
}
