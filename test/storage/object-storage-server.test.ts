// The test object-storage server itself: every protocol the drivers rely on answers for real (Swift v1 auth,
// Keystone v3 tokens accepted by the proxy, temp URLs, the S3 API with the AWS SDK, a private proxy that
// stops and starts). If these fail, the driver tests' failures are about the server, not the drivers.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { objectStorage, randomName, v1Auth, type ObjectStorageServers } from '../helpers/object-storage/index.js';
import { keystoneToken } from '../helpers/object-storage/keystone.js';
import { waitUntil } from '../helpers/wait.js';

let servers: ObjectStorageServers;

before(async () => {
  servers = await objectStorage();
});

async function swiftCall(url: string, token: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { 'x-auth-token': token, ...(init.headers as Record<string, string> | undefined) } });
}

function s3Client(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint: servers.s3.endpoint,
    region: servers.s3.region,
    forcePathStyle: true,
    credentials,
    // Swift 2.30's s3api answers 501 to aws-chunked streaming uploads: plain bodies of known length.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

describe('object-storage test server', () => {
  test('v1 auth (tempauth) gets a token that stores and reads an object', async () => {
    const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key);
    assert.equal(storageUrl, servers.v1.storageUrl);
    const container = `${storageUrl}/${randomName('v1')}`;
    assert.equal((await swiftCall(container, token, { method: 'PUT' })).status, 201);
    assert.equal((await swiftCall(`${container}/hello.txt`, token, { method: 'PUT', body: 'hello swift' })).status, 201);
    const got = await swiftCall(`${container}/hello.txt`, token);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'hello swift');
    const wrongKey = await fetch(servers.v1.authUrl, { headers: { 'x-auth-user': servers.v1.user, 'x-auth-key': 'wrong' } });
    assert.equal(wrongKey.status, 401);
    await swiftCall(`${container}/hello.txt`, token, { method: 'DELETE' });
    await swiftCall(container, token, { method: 'DELETE' });
  });

  test('Keystone v3 password auth gets a token the proxy accepts, with the object-store endpoint in its catalog', async () => {
    const { keystone } = servers;
    const { token, body } = await keystoneToken(keystone.authUrl, { name: keystone.username, password: keystone.password, projectName: keystone.projectName });
    const catalog = (body as { token: { catalog: { type: string; endpoints: { interface: string; url: string; region: string }[] }[] } }).token.catalog;
    const objectStore = catalog.find((service) => service.type === 'object-store');
    const publicEndpoint = objectStore?.endpoints.find((endpoint) => endpoint.interface === 'public');
    assert.equal(publicEndpoint?.url, keystone.storageUrl);
    assert.equal(publicEndpoint?.region, keystone.regionName);

    const container = `${keystone.storageUrl}/${randomName('v3')}`;
    assert.equal((await swiftCall(container, token, { method: 'PUT' })).status, 201);
    assert.equal((await swiftCall(`${container}/obj`, token, { method: 'PUT', body: 'via keystone' })).status, 201);
    assert.equal(await (await swiftCall(`${container}/obj`, token)).text(), 'via keystone');
    assert.equal((await swiftCall(`${container}/obj`, 'not-a-token')).status, 401);

    // A revoked token is refused once the proxy's short token cache (10 s) has let go of it.
    const revoke = await fetch(`${keystone.authUrl}/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': token, 'x-subject-token': token } });
    assert.equal(revoke.status, 204);
    await waitUntil('the revoked token to be refused', async () => (await swiftCall(`${container}/obj`, token)).status === 401, 60_000, 500);

    const fresh = await keystoneToken(keystone.authUrl, { name: keystone.username, password: keystone.password, projectName: keystone.projectName });
    await swiftCall(`${container}/obj`, fresh.token, { method: 'DELETE' });
    assert.equal((await swiftCall(container, fresh.token, { method: 'DELETE' })).status, 204);
  });

  test('temp URLs signed with the account key (HMAC-SHA256) are honoured, expired ones refused', async () => {
    const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key);
    const containerName = randomName('tempurl');
    await swiftCall(`${storageUrl}/${containerName}`, token, { method: 'PUT' });
    await swiftCall(`${storageUrl}/${containerName}/blob`, token, { method: 'PUT', body: 'signed' });
    const path = `${new URL(storageUrl).pathname}/${containerName}/blob`;
    const signed = (expires: number) => {
      const signature = createHmac('sha256', servers.tempUrlKey).update(`GET\n${expires}\n${path}`).digest('hex');
      return `${servers.proxyUrl}${path}?temp_url_sig=${signature}&temp_url_expires=${expires}`;
    };
    const valid = await fetch(signed(Math.floor(Date.now() / 1000) + 300));
    assert.equal(valid.status, 200);
    assert.equal(await valid.text(), 'signed');
    const expired = await fetch(signed(Math.floor(Date.now() / 1000) - 10));
    assert.equal(expired.status, 401);
    await swiftCall(`${storageUrl}/${containerName}/blob`, token, { method: 'DELETE' });
    await swiftCall(`${storageUrl}/${containerName}`, token, { method: 'DELETE' });
  });

  for (const [label, pick] of [
    ['Keystone EC2 credentials (s3token)', () => servers.s3],
    ['tempauth credentials', () => servers.s3.tempauth],
  ] as const) {
    test(`the S3 endpoint works with @aws-sdk/client-s3 and ${label}`, async () => {
      const { accessKeyId, secretAccessKey } = pick();
      const s3 = s3Client({ accessKeyId, secretAccessKey });
      const bucket = randomName('s3');
      try {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: Buffer.from('s3 body') }));
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Range: 'bytes=3-6' }));
        assert.equal(await got.Body?.transformToString(), 'body');
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a/b.txt' }));
        await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
        const wrong = s3Client({ accessKeyId, secretAccessKey: 'wrong-secret' });
        await assert.rejects(wrong.send(new CreateBucketCommand({ Bucket: randomName('s3') })), (error: Error) => /SignatureDoesNotMatch|AccessDenied/.test(error.name));
      } finally {
        s3.destroy();
      }
    });
  }

  test('a private proxy serves the same accounts and can be stopped and started again', async () => {
    const proxy = await servers.startPrivateProxy();
    after(() => proxy.stop());
    const { storageUrl, token } = await v1Auth(proxy.v1AuthUrl, servers.v1.user, servers.v1.key);
    assert.ok(storageUrl.startsWith(proxy.url), `${storageUrl} is on the private proxy`);
    const containerName = randomName('private');
    assert.equal((await swiftCall(`${storageUrl}/${containerName}`, token, { method: 'PUT' })).status, 201);
    await proxy.stop();
    assert.equal(proxy.running(), false);
    await assert.rejects(fetch(`${storageUrl}/${containerName}`, { headers: { 'x-auth-token': token } }), TypeError);
    await proxy.start();
    // The token lives in the shared memcached: still valid on the restarted proxy, and on the main one.
    assert.equal((await swiftCall(`${storageUrl}/${containerName}`, token, { method: 'HEAD' })).status, 204);
    const main = `${servers.v1.storageUrl}/${containerName}`;
    assert.equal((await swiftCall(main, token, { method: 'DELETE' })).status, 204);
  });
});
