// A RegistryAccess that lets every request through, for the tests of OCI behaviour (blobs, uploads,
// manifests, tags, ...) that are not about auth and drive /v2 with plain requests. It lives under test/
// on purpose: the server itself has no way to turn auth off. Auth on /v2 is tested with TokenAccess
// (test/registry/token-access.test.ts, test/e2e/login.test.ts).
import type { FastifyRequest } from 'fastify';
import type { Metadata } from '../../src/db/metadata.js';
import type { UserIdentity } from '../../src/auth/identity.js';
import { clientAddress } from '../../src/net/client-address.js';
import type { Grant, RegistryAccess } from '../../src/registry/access.js';

/** The identity open-access requests act as (audit rows name it). */
export const OPEN_ACCESS_IDENTITY: UserIdentity = Object.freeze({ kind: 'user', id: 0, name: 'open-access-test', superuser: true });

/** Every request allowed; repositories created on push as before auth existed; the catalog lists everything. */
export function openAccess(metadata: Metadata): RegistryAccess {
  return {
    async authorize(request: FastifyRequest): Promise<Grant> {
      return { identity: OPEN_ACCESS_IDENTITY, clientAddress: clientAddress(request.raw.socket), allows: () => true };
    },
    repositoryForPush: (_grant, name) => metadata.repositories.ensureRepository(name),
    visibleRepositories: (_grant, page) => metadata.repositories.listRepositories(page),
  };
}
