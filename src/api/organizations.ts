import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { namespaceNameProblem } from '../auth/names.js';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord, TeamRecord } from '../db/account-metadata.js';
import { loadOrganization } from './access.js';
import { audit, created, noContent, ok, type ApiContext } from './context.js';
import { memberView } from './format.js';
import { route, slashed } from './route.js';
import { checkName, email, nameInput, parseBody } from './validation.js';
import { changeNamespaceWindow, NamespaceWindowBody, namespaceWindowS } from './namespace-window.js';

/** Organizations: create, view, delete, and list members (/organization/...). */

const NewOrganizationBody = z.object({
  name: nameInput,
  email: email.optional(),
});

/** Quay's team summary inside an organization view. */
export function teamView(team: TeamRecord, memberCount?: number) {
  return {
    name: team.name,
    description: team.description ?? '',
    role: team.role,
    can_view: true,
    ...(memberCount === undefined ? {} : { member_count: memberCount }),
  };
}

/** Every team of the organization with its members, in two round trips per team at most. */
export async function teamsWithMembers(ctx: ApiContext, org: AccountRecord): Promise<Array<{ team: TeamRecord; members: AccountRecord[] }>> {
  const teams = await ctx.services.accounts.teams.listTeams(org.id);
  const members = await Promise.all(teams.map((team) => ctx.services.accounts.teams.listMembers(team.id)));
  return teams.map((team, index) => ({ team, members: members[index]! }));
}

/** Quay's organization view: teams for members; email and the time machine window for admins. */
async function organizationView(ctx: ApiContext, org: AccountRecord): Promise<Record<string, unknown>> {
  const identity = ctx.identity;
  const services = ctx.services;
  const isAdmin = identity.kind === 'user' && (await services.policy.administersNamespace(identity, org.name));
  const myTeams = identity.kind === 'user' ? await services.accounts.teams.teamsOf(org.id, identity.id) : [];
  const isMember = isAdmin || myTeams.length > 0;
  const view: Record<string, unknown> = { name: org.name, is_admin: isAdmin, is_member: isMember };
  if (isAdmin) {
    view.email = org.email;
    view.tag_expiration_s = await namespaceWindowS(services, org);
  }
  if (isMember) {
    const teams = await teamsWithMembers(ctx, org);
    view.teams = Object.fromEntries(teams.map(({ team, members }) => [team.name, teamView(team, members.length)]));
    view.ordered_teams = teams.map(({ team }) => team.name);
  }
  return view;
}

/** Registers /organization/. */
export function organizationRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'POST',
    url: slashed('/organization/'),
    access: 'user',
    handler: async (ctx) => {
      const body = parseBody(NewOrganizationBody, ctx.request.body);
      checkName(namespaceNameProblem(body.name));
      const org = await services.accounts.accounts.createOrganization({ name: body.name, email: body.email ?? null, ownerId: ctx.identity.id });
      audit(ctx, 'org_create', { namespace: org.name }, { email: org.email, namespace: org.name });
      return created({ name: org.name, email: org.email });
    },
  });

  route(app, services, {
    method: 'GET',
    url: '/organization/:org',
    access: 'public',
    handler: async (ctx) => ok(await organizationView(ctx, await loadOrganization(ctx, ctx.params.org ?? ''))),
  });

  // Quay's changeOrganizationDetails; of its fields Quayside reads the time machine window.
  route(app, services, {
    method: 'PUT',
    url: '/organization/:org',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const body = parseBody(NamespaceWindowBody, ctx.request.body);
      if (body.tag_expiration_s !== undefined) await changeNamespaceWindow(ctx, ctx.org, body.tag_expiration_s, 'org_change_tag_expiration');
      return ok(await organizationView(ctx, ctx.org));
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/organization/:org',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      // StillInUseError (repositories left) becomes a 400 carrying the store's message.
      await services.accounts.accounts.deleteAccount(org.id);
      audit(ctx, 'org_delete', { namespace: org.name }, { namespace: org.name });
      return noContent();
    },
  });

  route(app, services, {
    method: 'GET',
    url: '/organization/:org/members',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const byMember = new Map<string, { account: AccountRecord; teams: string[] }>();
      for (const { team, members } of await teamsWithMembers(ctx, org)) {
        for (const account of members) {
          const entry = byMember.get(account.name) ?? { account, teams: [] };
          entry.teams.push(team.name);
          byMember.set(account.name, entry);
        }
      }
      const members = [...byMember.values()]
        .sort((a, b) => (a.account.name < b.account.name ? -1 : a.account.name > b.account.name ? 1 : 0))
        .map(({ account, teams }) => ({ ...memberView(account), teams: teams.map((name) => ({ name })), repositories: [] }));
      return ok({ members });
    },
  });
}
