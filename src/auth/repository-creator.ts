import type { AuditLog } from '../audit/audit-log.js';
import { NameTakenError, type AccountMetadata } from '../db/account-metadata.js';
import type { Metadata, RepositoryRecord } from '../db/metadata.js';
import { namespaceOf } from '../db/repositories.js';
import { RegistryError } from '../http/oci-errors.js';
import { performerOf, type Identity } from './identity.js';
import { namespaceNameProblem } from './names.js';
import type { AccessPolicy, RepositoryCreator } from './services.js';

/**
 * Why a push into `namespace` cannot create its repository, and how to make it possible: the message of the
 * DENIED a client sees (and the request's log line carries) instead of a bare "denied".
 */
export function missingNamespaceMessage(namespace: string): string {
  if (namespace === '') return 'repository names need a namespace: push to <namespace>/<name> (your user name, or an organization)';
  return (
    `namespace "${namespace}" does not exist: create it with \`quayside org create ${namespace} --owner <user>\`, ` +
    'or set CREATE_NAMESPACE_ON_PUSH: true so that a user\'s first push creates it'
  );
}

export interface CreatorOptions {
  createPrivateRepoOnPush: boolean;
  createNamespaceOnPush: boolean;
}

/**
 * Creates repositories on first push (or from the API) with Quay's rules. Of several concurrent creators,
 * only the one whose insert made the row applies the creation rules (grants, prototypes, audit row).
 */
export class RepositoryCreatorService implements RepositoryCreator {
  constructor(
    private readonly accounts: AccountMetadata,
    private readonly metadata: Metadata,
    private readonly policy: AccessPolicy,
    private readonly audit: AuditLog,
    private readonly options: CreatorOptions,
  ) {}

  async ensure(
    identity: Identity,
    name: string,
    options: { visibility?: 'public' | 'private'; clientAddress: string },
  ): Promise<RepositoryRecord> {
    const existing = await this.metadata.repositories.getRepository(name);
    if (existing !== undefined) return existing;
    if (identity.kind === 'anonymous') throw new RegistryError('DENIED', 'anonymous users cannot create repositories');
    const namespace = namespaceOf(name);
    let owner = await this.accounts.accounts.getAccount(namespace);
    if (owner === undefined) {
      // A repository belongs to an account: never one in a namespace nobody owns.
      const mayCreate = this.options.createNamespaceOnPush && identity.kind === 'user' && namespaceNameProblem(namespace) === undefined;
      if (!mayCreate) throw new RegistryError('DENIED', missingNamespaceMessage(namespace), { namespace });
      owner = await this.createNamespace(identity, namespace, options.clientAddress);
    }

    const visibility = options.visibility ?? (this.options.createPrivateRepoOnPush ? 'private' : 'public');
    const { repository, created } = await this.metadata.repositories.createRepository(name, visibility);
    if (!created) return repository;

    if (owner?.kind === 'organization') {
      for (const prototype of await this.accounts.permissions.listPrototypes(owner.id)) {
        await this.accounts.permissions.setPermission(repository.id, prototype.delegate, prototype.role);
      }
    }
    // After the prototypes, so that a prototype naming the creator cannot lower its admin role.
    if (!(await this.policy.administersNamespace(identity, namespace))) {
      await this.accounts.permissions.setPermission(repository.id, { kind: 'account', id: identity.id }, 'admin');
    }
    this.audit.record({
      kind: 'create_repo',
      performer: performerOf(identity),
      namespace,
      repository: name,
      clientAddress: options.clientAddress,
      metadata: { repo: name, namespace, visibility },
    });
    return repository;
  }

  /**
   * Creates the organization `namespace` owned by the pushing user. Another pusher may create it at the
   * same moment; then the caller must be allowed in that organization, which is checked again.
   */
  private async createNamespace(identity: Identity & { kind: 'user' }, namespace: string, clientAddress: string) {
    try {
      const org = await this.accounts.accounts.createOrganization({ name: namespace, email: null, ownerId: identity.id });
      this.audit.record({
        kind: 'org_create',
        performer: performerOf(identity),
        namespace,
        repository: null,
        clientAddress,
        metadata: { namespace, created_on_push: true },
      });
      return org;
    } catch (error) {
      if (!(error instanceof NameTakenError)) throw error;
      if (!(await this.policy.canCreateIn(identity, namespace))) {
        throw new RegistryError('DENIED', `the namespace ${namespace} was just created by someone else`);
      }
      return this.accounts.accounts.getAccount(namespace);
    }
  }
}
