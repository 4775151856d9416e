import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { robotFullName, robotShortNameProblem } from '../auth/names.js';
import { hashSecret, newSecretToken } from '../auth/secrets.js';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord } from '../db/account-metadata.js';
import type { ContextByAccess } from './access.js';
import { audit, created, noContent, ok, type UserContext } from './context.js';
import { notFound } from './errors.js';
import { splitRepositoryName } from './paths.js';
import { quayDate } from './format.js';
import { route } from './route.js';
import { checkName, parseBody } from './validation.js';

/**
 * Robot accounts of an organization (/organization/{org}/robots...) or of the caller's own namespace
 * (/user/robots...). A robot's token is shown when it is made and when it is regenerated, never again:
 * only its hash is stored.
 */

// Quay's limit on a robot's description.
const MAX_ROBOT_DESCRIPTION = 255;

const RobotBody = z.object({
  description: z.string().max(MAX_ROBOT_DESCRIPTION).nullable().optional(),
  unstructured_metadata: z.record(z.string(), z.unknown()).optional(),
});

function robotView(robot: AccountRecord, token?: string) {
  return {
    name: robot.name,
    description: robot.description ?? '',
    created: quayDate(robot.createdAt),
    last_accessed: null,
    unstructured_metadata: {},
    ...(token === undefined ? {} : { token }),
  };
}

/** Robots live in an organization the caller administers, or in the caller's own namespace. */
type RobotOwnerAccess = 'orgAdmin' | 'user';

/** The account whose robots a request addresses, once the route's access let the caller in. */
type OwnerResolver<A extends RobotOwnerAccess> = (ctx: ContextByAccess[A]) => Promise<AccountRecord>;

const organizationOwner: OwnerResolver<'orgAdmin'> = async (ctx) => ctx.org;

const userOwner: OwnerResolver<'user'> = async (ctx) => {
  const account = await ctx.services.accounts.accounts.getAccountById(ctx.identity.id);
  if (account === undefined) throw notFound('user not found');
  return account;
};

async function loadRobot(ctx: UserContext, owner: AccountRecord): Promise<AccountRecord> {
  const short = ctx.params.short ?? '';
  checkName(robotShortNameProblem(short));
  const robot = await ctx.services.accounts.accounts.getAccount(robotFullName(owner.name, short));
  if (robot === undefined || robot.kind !== 'robot' || robot.ownerId !== owner.id) {
    throw notFound(`robot ${JSON.stringify(robotFullName(owner.name, short))} not found`);
  }
  return robot;
}

function register<A extends RobotOwnerAccess>(app: FastifyInstance, services: AuthServices, base: string, access: A, ownerOf: OwnerResolver<A>): void {
  route(app, services, {
    method: 'GET',
    url: `${base}/robots`,
    access,
    handler: async (ctx) => {
      const owner = await ownerOf(ctx);
      const robots = await services.accounts.accounts.listRobots(owner.id);
      return ok({ robots: robots.map((robot) => robotView(robot)) });
    },
  });

  route(app, services, {
    method: 'GET',
    url: `${base}/robots/:short`,
    access,
    handler: async (ctx) => {
      const owner = await ownerOf(ctx);
      return ok(robotView(await loadRobot(ctx, owner)));
    },
  });

  route(app, services, {
    method: 'PUT',
    url: `${base}/robots/:short`,
    access,
    handler: async (ctx) => {
      const owner = await ownerOf(ctx);
      const short = ctx.params.short ?? '';
      checkName(robotShortNameProblem(short));
      const body = parseBody(RobotBody, ctx.request.body, { optional: true });
      const token = newSecretToken();
      // NameTakenError (an existing robot, or any account of that name) becomes a 400.
      const robot = await services.accounts.accounts.createRobot({
        ownerId: owner.id,
        name: robotFullName(owner.name, short),
        description: body.description ?? null,
        tokenHash: hashSecret(token),
      });
      audit(ctx, 'create_robot', { namespace: owner.name }, { robot: robot.name, description: robot.description });
      return created(robotView(robot, token));
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: `${base}/robots/:short`,
    access,
    handler: async (ctx) => {
      const owner = await ownerOf(ctx);
      const robot = await loadRobot(ctx, owner);
      if (!(await services.accounts.accounts.deleteAccount(robot.id))) throw notFound('robot not found');
      audit(ctx, 'delete_robot', { namespace: owner.name }, { robot: robot.name });
      return noContent();
    },
  });

  // Quay's RobotPermissions: the repositories the robot was granted directly (team grants show on the team).
  route(app, services, {
    method: 'GET',
    url: `${base}/robots/:short/permissions`,
    access,
    handler: async (ctx) => {
      const owner = await ownerOf(ctx);
      const robot = await loadRobot(ctx, owner);
      const permissions = await services.accounts.permissions.listAccountPermissions(robot.id);
      return ok({
        permissions: permissions.map((p) => ({
          repository: { name: splitRepositoryName(p.repositoryName).name, is_public: p.isPublic },
          role: p.role,
        })),
      });
    },
  });

  route(app, services, {
    method: 'POST',
    url: `${base}/robots/:short/regenerate`,
    access,
    handler: async (ctx) => {
      const owner = await ownerOf(ctx);
      const robot = await loadRobot(ctx, owner);
      const token = newSecretToken();
      await services.accounts.accounts.setRobotTokenHash(robot.id, hashSecret(token));
      audit(ctx, 'regenerate_robot_token', { namespace: owner.name }, { robot: robot.name });
      return ok(robotView(robot, token));
    },
  });
}

/** Registers the robot routes under /organization/{org} and /user. */
export function robotRoutes(app: FastifyInstance, services: AuthServices): void {
  register(app, services, '/organization/:org', 'orgAdmin', organizationOwner);
  register(app, services, '/user', 'user', userOwner);
}
