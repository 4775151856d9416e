import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { teamNameProblem } from '../auth/names.js';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord } from '../db/account-metadata.js';
import { loadTeam } from './access.js';
import { audit, noContent, ok, type UserContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { memberView } from './format.js';
import { teamsWithMembers, teamView } from './organizations.js';
import { route } from './route.js';
import { checkName, MAX_DESCRIPTION_LENGTH, MAX_NAME_INPUT_LENGTH, parseBody, teamRole } from './validation.js';

/** Teams of an organization and their members (/organization/{org}/team/{team}[/members[/{member}]]). */

const TeamBody = z.object({
  role: teamRole,
  description: z.string().max(MAX_DESCRIPTION_LENGTH).nullable().optional(),
});

/**
 * Whether the organization would still have a user in an admin team after `change` (a team deleted or
 * demoted, a member removed). Without one, only a superuser could administer it again.
 */
async function keepsAnAdmin(ctx: UserContext, org: AccountRecord, change: { teamId: number; removedMemberId?: number }): Promise<boolean> {
  for (const { team, members } of await teamsWithMembers(ctx, org)) {
    if (team.role !== 'admin') continue;
    const left = members.filter((m) => m.kind === 'user' && !(team.id === change.teamId && (change.removedMemberId === undefined || m.id === change.removedMemberId)));
    if (left.length > 0) return true;
  }
  return false;
}

/** A team member must be a user, or a robot of this organization. */
async function loadMember(ctx: UserContext, org: AccountRecord, name: string): Promise<AccountRecord> {
  if (name.length === 0 || name.length > MAX_NAME_INPUT_LENGTH) throw badRequest('member name must be 1 to 255 characters');
  const account = await ctx.services.accounts.accounts.getAccount(name);
  if (account === undefined) throw badRequest(`unknown user ${JSON.stringify(name)}`);
  if (account.kind === 'organization') throw badRequest(`${JSON.stringify(name)} is an organization; team members are users or robots`);
  if (account.kind === 'robot') {
    if (account.ownerId !== org.id) throw badRequest(`robot ${JSON.stringify(name)} does not belong to organization ${JSON.stringify(org.name)}`);
  }
  return account;
}

/** Registers the team routes. */
export function teamRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'PUT',
    url: '/organization/:org/team/:team',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const name = ctx.params.team ?? '';
      checkName(teamNameProblem(name));
      const body = parseBody(TeamBody, ctx.request.body);
      const existing = await services.accounts.teams.getTeam(org.id, name);
      const description = body.description !== undefined ? body.description : (existing?.description ?? null);
      if (existing?.role === 'admin' && body.role !== 'admin' && !(await keepsAnAdmin(ctx, org, { teamId: existing.id }))) {
        throw badRequest('this is the last admin team of the organization with users in it; its role cannot change');
      }
      const team = await services.accounts.teams.upsertTeam(org.id, name, body.role, description);
      const where = { namespace: org.name };
      if (existing === undefined) {
        audit(ctx, 'org_create_team', where, { team: team.name, role: team.role });
      } else {
        if (existing.role !== team.role) audit(ctx, 'org_set_team_role', where, { team: team.name, role: team.role });
        if ((existing.description ?? null) !== (team.description ?? null)) {
          audit(ctx, 'org_set_team_description', where, { team: team.name, description: team.description });
        }
      }
      return ok({ ...teamView(team), new_team: existing === undefined });
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/organization/:org/team/:team',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const team = await loadTeam(ctx, org, ctx.params.team ?? '');
      if (team.role === 'admin' && !(await keepsAnAdmin(ctx, org, { teamId: team.id }))) {
        throw badRequest('this is the last admin team of the organization with users in it; it cannot be deleted');
      }
      if (!(await services.accounts.teams.deleteTeam(team.id))) throw notFound('team not found');
      audit(ctx, 'org_delete_team', { namespace: org.name }, { team: team.name });
      return noContent();
    },
  });

  route(app, services, {
    method: 'GET',
    url: '/organization/:org/team/:team/members',
    access: 'teamMember',
    handler: async (ctx) => {
      const members = await services.accounts.teams.listMembers(ctx.team.id);
      return ok({ name: ctx.team.name, members: members.map((m) => ({ ...memberView(m), invited: false })), can_edit: ctx.isOrgAdmin });
    },
  });

  route(app, services, {
    method: 'PUT',
    url: '/organization/:org/team/:team/members/:member',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const team = await loadTeam(ctx, org, ctx.params.team ?? '');
      const member = await loadMember(ctx, org, ctx.params.member ?? '');
      await services.accounts.teams.addMember(team.id, member.id);
      audit(ctx, 'org_add_team_member', { namespace: org.name }, { member: member.name, team: team.name });
      return ok({ ...memberView(member), invited: false });
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/organization/:org/team/:team/members/:member',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const team = await loadTeam(ctx, org, ctx.params.team ?? '');
      const name = ctx.params.member ?? '';
      const member = name.length <= MAX_NAME_INPUT_LENGTH ? await services.accounts.accounts.getAccount(name) : undefined;
      if (member === undefined) throw notFound(`${JSON.stringify(name)} is not a member of team ${JSON.stringify(team.name)}`);
      if (team.role === 'admin' && member.kind === 'user' && !(await keepsAnAdmin(ctx, org, { teamId: team.id, removedMemberId: member.id }))) {
        throw badRequest('the organization would be left without any user in an admin team');
      }
      if (!(await services.accounts.teams.removeMember(team.id, member.id))) {
        throw notFound(`${JSON.stringify(name)} is not a member of team ${JSON.stringify(team.name)}`);
      }
      audit(ctx, 'org_remove_team_member', { namespace: org.name }, { member: member.name, team: team.name });
      return noContent();
    },
  });
}
