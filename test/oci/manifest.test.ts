import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManifestError, parseManifest } from '../../src/oci/manifest.js';
import {
  DOCKER_LAYER_FOREIGN_GZIP,
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V1,
  DOCKER_MANIFEST_V1_SIGNED,
  DOCKER_MANIFEST_V2,
  OCI_EMPTY,
  OCI_IMAGE_CONFIG,
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
} from '../../src/oci/media-types.js';
import {
  CHILD1_DIGEST,
  CHILD2_DIGEST,
  CONFIG_DIGEST,
  EMPTY_DIGEST,
  type Json,
  LAYER1_DIGEST,
  LAYER2_DIGEST,
  SUBJECT_DIGEST,
  bytes,
  dockerImage,
  dockerList,
  ociArtifact,
  ociImage,
  ociIndex,
} from './fixtures.js';

type Obj = { [key: string]: Json };

function expectError(fn: () => unknown, code: 'MANIFEST_INVALID' | 'UNSUPPORTED', message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ManifestError, `expected ManifestError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

function layer(m: Obj, i: number): Obj {
  return (m.layers as Obj[])[i] as Obj;
}

describe('parseManifest: valid documents', () => {
  it('parses an OCI image manifest', () => {
    const parsed = parseManifest(bytes(ociImage()), OCI_IMAGE_MANIFEST);
    assert.equal(parsed.mediaType, OCI_IMAGE_MANIFEST);
    assert.equal(parsed.kind, 'image');
    assert.deepEqual(parsed.config, { mediaType: OCI_IMAGE_CONFIG, digest: CONFIG_DIGEST, size: 6 });
    assert.deepEqual(parsed.layers.map((l) => l.digest), [LAYER1_DIGEST, LAYER2_DIGEST]);
    assert.deepEqual(parsed.manifests, []);
    assert.equal(parsed.subject, undefined);
    assert.equal(parsed.artifactType, OCI_IMAGE_CONFIG);
    assert.deepEqual({ ...parsed.annotations }, { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' });
    assert.deepEqual(parsed.references, [
      { digest: CONFIG_DIGEST, kind: 'blob' },
      { digest: LAYER1_DIGEST, kind: 'blob' },
      { digest: LAYER2_DIGEST, kind: 'blob' },
    ]);
  });

  it('parses an OCI artifact with empty config, no layers, artifactType, embedded data and subject', () => {
    const parsed = parseManifest(bytes(ociArtifact()), OCI_IMAGE_MANIFEST);
    assert.equal(parsed.kind, 'image');
    assert.equal(parsed.artifactType, 'application/vnd.example.sbom.v1+json');
    assert.equal(parsed.config?.mediaType, OCI_EMPTY);
    assert.deepEqual(parsed.layers, []);
    assert.deepEqual(parsed.subject, { mediaType: OCI_IMAGE_MANIFEST, digest: SUBJECT_DIGEST, size: 1234 });
    assert.equal(parsed.annotations, null);
    // The subject need not exist: it is not a reference.
    assert.deepEqual(parsed.references, [{ digest: EMPTY_DIGEST, kind: 'blob' }]);
  });

  it('parses an OCI index; children are manifest references; artifactType null unless given', () => {
    const parsed = parseManifest(bytes(ociIndex()), OCI_IMAGE_INDEX);
    assert.equal(parsed.kind, 'index');
    assert.equal(parsed.config, undefined);
    assert.deepEqual(parsed.layers, []);
    assert.deepEqual(parsed.manifests.map((m) => m.digest), [CHILD1_DIGEST, CHILD2_DIGEST]);
    assert.deepEqual(parsed.manifests[0]?.platform, { architecture: 'amd64', os: 'linux' });
    assert.equal(parsed.artifactType, null);
    assert.deepEqual(parsed.references, [
      { digest: CHILD1_DIGEST, kind: 'manifest' },
      { digest: CHILD2_DIGEST, kind: 'manifest' },
    ]);
    const withType = ociIndex();
    withType.artifactType = 'application/vnd.example.bundle';
    assert.equal(parseManifest(bytes(withType), OCI_IMAGE_INDEX).artifactType, 'application/vnd.example.bundle');
  });

  it('parses Docker schema 2 images and manifest lists', () => {
    const image = parseManifest(bytes(dockerImage()), DOCKER_MANIFEST_V2);
    assert.equal(image.mediaType, DOCKER_MANIFEST_V2);
    assert.equal(image.kind, 'image');
    assert.equal(image.artifactType, 'application/vnd.docker.container.image.v1+json');
    const list = parseManifest(bytes(dockerList()), DOCKER_MANIFEST_LIST);
    assert.equal(list.mediaType, DOCKER_MANIFEST_LIST);
    assert.equal(list.kind, 'index');
    assert.equal(list.artifactType, null);
    const empty = dockerImage();
    empty.layers = [];
    assert.deepEqual(parseManifest(bytes(empty), DOCKER_MANIFEST_V2).layers, []);
  });

  it('accepts an index with no children', () => {
    const index = ociIndex();
    index.manifests = [];
    assert.deepEqual(parseManifest(bytes(index), OCI_IMAGE_INDEX).references, []);
  });

  it('accepts any whitespace and ignores unknown fields', () => {
    const m = ociImage();
    m['x-vendor'] = { anything: [1, 2, 3] };
    layer(m, 0)['x-extra'] = true;
    const text = `\r\n\t ${JSON.stringify(m, null, 7)} \n\n`;
    const parsed = parseManifest(Buffer.from(text), OCI_IMAGE_MANIFEST);
    assert.equal(parsed.layers.length, 2);
    assert.equal(Object.hasOwn(parsed.layers[0] as object, 'x-extra'), false);
  });

  it('keeps the optional descriptor fields', () => {
    const m = ociImage();
    Object.assign(layer(m, 0), {
      annotations: { a: 'b' },
      artifactType: 'application/vnd.example.thing',
      urls: ['https://example.com/layer'],
    });
    const first = parseManifest(bytes(m), OCI_IMAGE_MANIFEST).layers[0];
    assert.deepEqual({ ...first?.annotations }, { a: 'b' });
    assert.equal(first?.artifactType, 'application/vnd.example.thing');
    assert.deepEqual(first?.urls, ['https://example.com/layer']);
  });

  it('keeps "__proto__" annotation keys as plain data', () => {
    const text = JSON.stringify(ociImage()).replace('"org.opencontainers.image.created"', '"__proto__"');
    const parsed = parseManifest(Buffer.from(text), OCI_IMAGE_MANIFEST);
    assert.equal(parsed.annotations?.['__proto__'], '2024-01-01T00:00:00Z');
    assert.equal(({} as Record<string, unknown>)['2024-01-01T00:00:00Z'], undefined);
  });
});

describe('parseManifest: references', () => {
  it('excludes layers with urls (foreign) and removes duplicates', () => {
    const m = dockerImage();
    (m.layers as Obj[]).push(
      { mediaType: DOCKER_LAYER_FOREIGN_GZIP, digest: LAYER2_DIGEST, size: 100, urls: ['https://example.com/l2'] },
      { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: LAYER1_DIGEST, size: 9 },
      { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: CONFIG_DIGEST, size: 6 },
    );
    assert.deepEqual(parseManifest(bytes(m), DOCKER_MANIFEST_V2).references, [
      { digest: CONFIG_DIGEST, kind: 'blob' },
      { digest: LAYER1_DIGEST, kind: 'blob' },
    ]);
  });

  it('a layer with an empty urls list is local and required', () => {
    const m = ociImage();
    layer(m, 1).urls = [];
    assert.ok(parseManifest(bytes(m), OCI_IMAGE_MANIFEST).references.some((r) => r.digest === LAYER2_DIGEST));
  });

  it('removes duplicate children of an index', () => {
    const index = ociIndex();
    (index.manifests as Obj[]).push({ ...((index.manifests as Obj[])[0] as Obj) });
    assert.equal(parseManifest(bytes(index), OCI_IMAGE_INDEX).references.length, 2);
  });
});

describe('parseManifest: effective media type', () => {
  const cases: Array<[string, () => Obj, string | undefined, string]> = [
    ['Content-Type with parameters', ociImage, `${OCI_IMAGE_MANIFEST}; charset=utf-8`, OCI_IMAGE_MANIFEST],
    ['Content-Type in upper case', ociImage, OCI_IMAGE_MANIFEST.toUpperCase(), OCI_IMAGE_MANIFEST],
    ['no Content-Type: body mediaType', dockerList, undefined, DOCKER_MANIFEST_LIST],
    ['application/octet-stream is ignored', dockerImage, 'application/octet-stream', DOCKER_MANIFEST_V2],
    ['application/json is ignored', ociIndex, 'application/json', OCI_IMAGE_INDEX],
    ['empty Content-Type is ignored', ociImage, '', OCI_IMAGE_MANIFEST],
    ['no mediaType in body but Content-Type', () => ({ ...dockerImage(), mediaType: undefined as unknown as Json }), DOCKER_MANIFEST_V2, DOCKER_MANIFEST_V2],
    ['inferred OCI image from config+layers', () => ({ ...ociImage(), mediaType: undefined as unknown as Json }), undefined, OCI_IMAGE_MANIFEST],
    ['inferred OCI index from manifests', () => ({ ...ociIndex(), mediaType: undefined as unknown as Json }), 'text/plain', OCI_IMAGE_INDEX],
  ];
  for (const [label, make, contentType, expected] of cases) {
    it(label, () => {
      const parsed = parseManifest(bytes(make()), contentType);
      assert.equal(parsed.mediaType, expected);
    });
  }
});

describe('parseManifest: Docker schema 1', () => {
  const schema1 = { schemaVersion: 1, name: 'library/x', tag: 'latest', architecture: 'amd64', fsLayers: [], history: [] };
  const cases: Array<[string, Obj, string | undefined]> = [
    ['schemaVersion 1 without Content-Type', schema1, undefined],
    ['schemaVersion 1 sent as OCI', schema1, OCI_IMAGE_MANIFEST],
    ['v1+json Content-Type', schema1, DOCKER_MANIFEST_V1],
    ['v1+prettyjws Content-Type', schema1, DOCKER_MANIFEST_V1_SIGNED],
    ['v1 Content-Type on a schema 2 body', dockerImage(), DOCKER_MANIFEST_V1_SIGNED],
    ['v1 media type in the body', { ...dockerImage(), mediaType: DOCKER_MANIFEST_V1 }, undefined],
  ];
  for (const [label, body, contentType] of cases) {
    it(`refuses ${label} as UNSUPPORTED`, () => {
      expectError(() => parseManifest(bytes(body), contentType), 'UNSUPPORTED', /schema 1 manifests are not supported.*schema 2 or OCI/);
    });
  }
});

describe('parseManifest: bodies that are not a JSON object', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty body', Buffer.alloc(0), /not valid JSON/],
    ['whitespace only', Buffer.from('  \n'), /not valid JSON/],
    ['truncated JSON', bytes(ociImage()).subarray(0, 40), /not valid JSON/],
    ['trailing garbage', Buffer.concat([bytes(ociImage()), Buffer.from('x')]), /not valid JSON/],
    ['two objects', Buffer.concat([bytes(ociImage()), bytes(ociImage())]), /not valid JSON/],
    ['single quotes', Buffer.from("{'schemaVersion': 2}"), /not valid JSON/],
    ['comment', Buffer.from('{"schemaVersion": 2 /* x */}'), /not valid JSON/],
    ['byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(ociImage())]), /not valid JSON/],
    ['UTF-16', Buffer.from(JSON.stringify(ociImage()), 'utf16le'), /not valid (UTF-8|JSON)/],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), /not valid UTF-8/],
    ['deep nesting', Buffer.from('['.repeat(200000) + ']'.repeat(200000)), /not valid JSON|must be a JSON object/],
    ['an array', Buffer.from('[]'), /must be a JSON object, not an array/],
    ['null', Buffer.from('null'), /not null/],
    ['a string', Buffer.from('"manifest"'), /not a string/],
    ['a number', Buffer.from('2'), /not a number/],
    ['a boolean', Buffer.from('true'), /not a boolean/],
  ];
  for (const [label, body, message] of cases) {
    it(`rejects ${label}`, () => expectError(() => parseManifest(body, OCI_IMAGE_MANIFEST), 'MANIFEST_INVALID', message));
  }
});

type Mutation = [string, () => Obj, string | undefined, RegExp];

function mutated(make: () => Obj, change: (m: Obj) => void): () => Obj {
  return () => {
    const m = make();
    change(m);
    return m;
  };
}

describe('parseManifest: invalid manifests', () => {
  const cases: Mutation[] = [
    // schemaVersion and media type
    ['missing schemaVersion', mutated(ociImage, (m) => delete m.schemaVersion), OCI_IMAGE_MANIFEST, /schemaVersion is required/],
    ['schemaVersion 3', mutated(ociImage, (m) => (m.schemaVersion = 3)), OCI_IMAGE_MANIFEST, /schemaVersion must be 2/],
    ['schemaVersion "2"', mutated(ociImage, (m) => (m.schemaVersion = '2')), OCI_IMAGE_MANIFEST, /schemaVersion must be 2/],
    ['schemaVersion 2.5', mutated(ociImage, (m) => (m.schemaVersion = 2.5)), OCI_IMAGE_MANIFEST, /schemaVersion must be 2/],
    ['mediaType not a string', mutated(ociImage, (m) => (m.mediaType = 5)), OCI_IMAGE_MANIFEST, /mediaType must be a string/],
    ['mediaType mismatching Content-Type', ociImage, DOCKER_MANIFEST_V2, /does not match the Content-Type/],
    ['index body sent as image', ociIndex, OCI_IMAGE_MANIFEST, /does not match/],
    ['unknown body mediaType, no Content-Type', mutated(ociImage, (m) => (m.mediaType = 'application/vnd.example+json')), undefined, /unknown manifest media type/],
    ['unknown body mediaType, JSON Content-Type', mutated(ociImage, (m) => (m.mediaType = 'application/json')), 'application/json', /unknown manifest media type/],
    ['nothing to infer from', () => ({ schemaVersion: 2 }), undefined, /media type unknown/],
    ['ambiguous shape', () => ({ ...ociImage(), mediaType: undefined as unknown as Json, manifests: [] }), undefined, /cannot tell/],
    ['image with manifests field', mutated(ociImage, (m) => (m.manifests = [])), OCI_IMAGE_MANIFEST, /must not have a "manifests" field/],
    ['index with config field', mutated(ociIndex, (m) => (m.config = ociImage().config as Json)), OCI_IMAGE_INDEX, /must not have a "config" field/],
    ['index with layers field', mutated(ociIndex, (m) => (m.layers = [])), OCI_IMAGE_INDEX, /must not have a "layers" field/],
    // required structure
    ['image without config', mutated(ociImage, (m) => delete m.config), OCI_IMAGE_MANIFEST, /config is required/],
    ['image with null config', mutated(ociImage, (m) => (m.config = null)), OCI_IMAGE_MANIFEST, /config must be a descriptor object, not null/],
    ['image with config array', mutated(ociImage, (m) => (m.config = [])), OCI_IMAGE_MANIFEST, /config must be a descriptor object, not an array/],
    ['image without layers', mutated(ociImage, (m) => delete m.layers), OCI_IMAGE_MANIFEST, /layers is required/],
    ['Docker image without layers', mutated(dockerImage, (m) => delete m.layers), DOCKER_MANIFEST_V2, /layers is required/],
    ['layers an object', mutated(ociImage, (m) => (m.layers = {})), OCI_IMAGE_MANIFEST, /layers must be an array, not an object/],
    ['layers null', mutated(ociImage, (m) => (m.layers = null)), OCI_IMAGE_MANIFEST, /layers must be an array, not null/],
    ['layer a string', mutated(ociImage, (m) => ((m.layers as Json[])[1] = LAYER1_DIGEST)), OCI_IMAGE_MANIFEST, /layers\[1\] must be a descriptor object, not a string/],
    ['index without manifests', mutated(ociIndex, (m) => delete m.manifests), OCI_IMAGE_INDEX, /manifests is required/],
    ['Docker list without manifests', mutated(dockerList, (m) => delete m.manifests), DOCKER_MANIFEST_LIST, /manifests is required/],
    ['manifests a string', mutated(ociIndex, (m) => (m.manifests = 'x')), OCI_IMAGE_INDEX, /manifests must be an array/],
    ['manifest entry null', mutated(ociIndex, (m) => ((m.manifests as Json[])[0] = null)), OCI_IMAGE_INDEX, /manifests\[0\] must be a descriptor object, not null/],
    // descriptor mediaType
    ['layer without mediaType', mutated(ociImage, (m) => delete layer(m, 0).mediaType), OCI_IMAGE_MANIFEST, /layers\[0\]\.mediaType is required/],
    ['layer mediaType a number', mutated(ociImage, (m) => (layer(m, 0).mediaType = 1)), OCI_IMAGE_MANIFEST, /layers\[0\]\.mediaType must be a string, not a number/],
    ['layer mediaType empty', mutated(ociImage, (m) => (layer(m, 0).mediaType = '')), OCI_IMAGE_MANIFEST, /is not a media type/],
    ['layer mediaType without slash', mutated(ociImage, (m) => (layer(m, 0).mediaType = 'tar')), OCI_IMAGE_MANIFEST, /is not a media type/],
    ['config mediaType with spaces', mutated(ociImage, (m) => ((m.config as Obj).mediaType = 'application/ json')), OCI_IMAGE_MANIFEST, /config\.mediaType .* not a media type/],
    // descriptor digest
    ['config without digest', mutated(ociImage, (m) => delete (m.config as Obj).digest), OCI_IMAGE_MANIFEST, /config\.digest is required/],
    ['digest a number', mutated(ociImage, (m) => (layer(m, 1).digest = 12)), OCI_IMAGE_MANIFEST, /layers\[1\]\.digest must be a string/],
    ['digest with upper-case hex', mutated(ociImage, (m) => (layer(m, 0).digest = LAYER1_DIGEST.toUpperCase().replace('SHA256', 'sha256'))), OCI_IMAGE_MANIFEST, /layers\[0\]\.digest .* not a valid digest/],
    ['digest too short', mutated(ociImage, (m) => (layer(m, 0).digest = LAYER1_DIGEST.slice(0, -1))), OCI_IMAGE_MANIFEST, /not a valid digest/],
    ['digest too long', mutated(ociImage, (m) => (layer(m, 0).digest = `${LAYER1_DIGEST}a`)), OCI_IMAGE_MANIFEST, /not a valid digest/],
    ['digest unknown algorithm', mutated(ociImage, (m) => (layer(m, 0).digest = LAYER1_DIGEST.replace('sha256', 'sha384'))), OCI_IMAGE_MANIFEST, /not a valid digest/],
    ['digest missing colon', mutated(ociImage, (m) => (layer(m, 0).digest = LAYER1_DIGEST.replace(':', ''))), OCI_IMAGE_MANIFEST, /not a valid digest/],
    ['child digest invalid', mutated(ociIndex, (m) => (((m.manifests as Obj[])[1] as Obj).digest = 'sha512:abc')), OCI_IMAGE_INDEX, /manifests\[1\]\.digest/],
    // descriptor size
    ['size missing', mutated(ociImage, (m) => delete layer(m, 0).size), OCI_IMAGE_MANIFEST, /layers\[0\]\.size is required/],
    ['size a string', mutated(ociImage, (m) => (layer(m, 0).size = '9')), OCI_IMAGE_MANIFEST, /size must be a number, not a string/],
    ['size null', mutated(ociImage, (m) => (layer(m, 0).size = null)), OCI_IMAGE_MANIFEST, /size must be a number, not null/],
    ['size negative', mutated(ociImage, (m) => (layer(m, 0).size = -1)), OCI_IMAGE_MANIFEST, /non-negative integer/],
    ['size fractional', mutated(ociImage, (m) => (layer(m, 0).size = 1.5)), OCI_IMAGE_MANIFEST, /non-negative integer/],
    ['size beyond 2^53', mutated(ociImage, (m) => (layer(m, 0).size = 2 ** 53)), OCI_IMAGE_MANIFEST, /non-negative integer/],
    ['config size negative', mutated(dockerImage, (m) => ((m.config as Obj).size = -6)), DOCKER_MANIFEST_V2, /config\.size/],
    ['child size fractional', mutated(dockerList, (m) => (((m.manifests as Obj[])[0] as Obj).size = 0.1)), DOCKER_MANIFEST_LIST, /manifests\[0\]\.size/],
    // optional descriptor fields
    ['urls a string', mutated(ociImage, (m) => (layer(m, 0).urls = 'https://x')), OCI_IMAGE_MANIFEST, /urls must be an array/],
    ['urls with a number', mutated(ociImage, (m) => (layer(m, 0).urls = [1])), OCI_IMAGE_MANIFEST, /urls\[0\] must be a non-empty string/],
    ['urls with empty string', mutated(ociImage, (m) => (layer(m, 0).urls = [''])), OCI_IMAGE_MANIFEST, /urls\[0\]/],
    ['descriptor annotations array', mutated(ociImage, (m) => (layer(m, 0).annotations = [])), OCI_IMAGE_MANIFEST, /layers\[0\]\.annotations must be an object/],
    ['descriptor artifactType number', mutated(ociImage, (m) => (layer(m, 0).artifactType = 3)), OCI_IMAGE_MANIFEST, /layers\[0\]\.artifactType must be a string/],
    ['data not base64', mutated(ociArtifact, (m) => ((m.config as Obj).data = 'e30')), OCI_IMAGE_MANIFEST, /data is not valid base64/],
    ['data a number', mutated(ociArtifact, (m) => ((m.config as Obj).data = 7)), OCI_IMAGE_MANIFEST, /data must be a base64 string/],
    ['data of the wrong size', mutated(ociArtifact, (m) => ((m.config as Obj).data = 'e30K')), OCI_IMAGE_MANIFEST, /data is 3 bytes but size says 2/],
    ['data not matching digest', mutated(ociArtifact, (m) => ((m.config as Obj).data = 'W10=')), OCI_IMAGE_MANIFEST, /does not match config\.digest/],
    ['platform a string', mutated(ociIndex, (m) => (((m.manifests as Obj[])[0] as Obj).platform = 'linux/amd64')), OCI_IMAGE_INDEX, /platform must be an object/],
    ['platform without os', mutated(ociIndex, (m) => (((m.manifests as Obj[])[0] as Obj).platform = { architecture: 'amd64' })), OCI_IMAGE_INDEX, /platform\.os is required/],
    ['platform architecture a number', mutated(dockerList, (m) => (((m.manifests as Obj[])[0] as Obj).platform = { architecture: 1, os: 'linux' })), DOCKER_MANIFEST_LIST, /platform\.architecture/],
    ['platform variant a number', mutated(ociIndex, (m) => (((m.manifests as Obj[])[0] as Obj).platform = { architecture: 'arm', os: 'linux', variant: 7 })), OCI_IMAGE_INDEX, /platform\.variant must be a string/],
    ['platform os.features not strings', mutated(ociIndex, (m) => (((m.manifests as Obj[])[0] as Obj).platform = { architecture: 'a', os: 'b', 'os.features': [1] })), OCI_IMAGE_INDEX, /os\.features must be an array of strings/],
    // subject, artifactType, annotations
    ['subject a string', mutated(ociArtifact, (m) => (m.subject = SUBJECT_DIGEST)), OCI_IMAGE_MANIFEST, /subject must be a descriptor object/],
    ['subject without digest', mutated(ociArtifact, (m) => delete (m.subject as Obj).digest), OCI_IMAGE_MANIFEST, /subject\.digest is required/],
    ['subject negative size', mutated(ociArtifact, (m) => ((m.subject as Obj).size = -5)), OCI_IMAGE_MANIFEST, /subject\.size/],
    ['index subject invalid', mutated(ociIndex, (m) => (m.subject = { mediaType: OCI_IMAGE_MANIFEST, digest: 'x', size: 1 })), OCI_IMAGE_INDEX, /subject\.digest/],
    ['artifactType a number', mutated(ociArtifact, (m) => (m.artifactType = 1)), OCI_IMAGE_MANIFEST, /artifactType must be a string/],
    ['artifactType not a media type', mutated(ociArtifact, (m) => (m.artifactType = 'sbom')), OCI_IMAGE_MANIFEST, /artifactType "sbom" is not a media type/],
    ['artifactType with parameters', mutated(ociIndex, (m) => (m.artifactType = 'a/b; c=d')), OCI_IMAGE_INDEX, /not a media type/],
    ['annotations an array', mutated(ociImage, (m) => (m.annotations = [])), OCI_IMAGE_MANIFEST, /annotations must be an object of strings, not an array/],
    ['annotations null', mutated(ociImage, (m) => (m.annotations = null)), OCI_IMAGE_MANIFEST, /annotations must be an object/],
    ['annotation value a number', mutated(ociImage, (m) => (m.annotations = { a: 1 })), OCI_IMAGE_MANIFEST, /annotations\["a"\] must be a string, not a number/],
    ['annotation value an object', mutated(ociIndex, (m) => (m.annotations = { a: {} })), OCI_IMAGE_INDEX, /annotations\["a"\]/],
  ];
  for (const [label, make, contentType, message] of cases) {
    it(`rejects ${label}`, () => expectError(() => parseManifest(bytes(make()), contentType), 'MANIFEST_INVALID', message));
  }
});
