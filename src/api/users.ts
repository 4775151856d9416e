import { randomBytes } from 'node:crypto';
import { isSuperuser } from '../auth/options.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { UserIdentity } from '../auth/identity.js';
import { namespaceNameProblem } from '../auth/names.js';
import { hashPassword, passwordProblem } from '../auth/passwords.js';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord } from '../db/account-metadata.js';
import { audit, created, noContent, ok, type ApiContext } from './context.js';
import { badRequest, forbidden, notFound, tooManyRequests } from './errors.js';
import { route, slashed } from './route.js';
import { changeNamespaceWindow, NamespaceWindowBody, namespaceWindowS } from './namespace-window.js';
import { checkName, email, MAX_NAME_INPUT_LENGTH, MAX_PASSWORD_LENGTH, nameInput, parseBody, parseQuery } from './validation.js';

/** The caller's account (GET/POST /user/) and the superuser's user management (/superuser/users/). */

const NewUserBody = z.object({
  username: nameInput,
  password: z.string().max(MAX_PASSWORD_LENGTH),
  email: email.optional(),
});

const SuperuserNewUserBody = z.object({
  username: nameInput,
  email: email.optional(),
});

const SuperuserUpdateBody = z.object({
  password: z.string().max(MAX_PASSWORD_LENGTH).optional(),
  email: email.nullable().optional(),
  enabled: z.boolean().optional(),
});

const ListQuery = z.object({
  next_page: z.string().max(MAX_NAME_INPUT_LENGTH).optional(),
  limit: z.string().regex(/^\d{1,4}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1).max(500)).optional(),
});

function superuserUserView(services: AuthServices, account: AccountRecord) {
  return {
    kind: 'user',
    username: account.name,
    name: account.name,
    email: account.email,
    verified: true,
    enabled: account.enabled,
    super_user: isSuperuser(services.options, account),
  };
}

/** A password for a user a superuser creates: shown once, long enough for any password rule. */
function generatedPassword(): string {
  return randomBytes(18).toString('base64url');
}

async function loadUser(ctx: ApiContext, username: string): Promise<AccountRecord> {
  const account = username.length <= MAX_NAME_INPUT_LENGTH ? await ctx.services.accounts.accounts.getAccount(username) : undefined;
  if (account === undefined || account.kind !== 'user') throw notFound(`user ${JSON.stringify(username)} not found`);
  return account;
}

async function createUser(ctx: ApiContext, username: string, password: string, userEmail: string | undefined): Promise<AccountRecord> {
  checkName(namespaceNameProblem(username));
  checkName(passwordProblem(password));
  const account = await ctx.services.accounts.accounts.createUser({
    name: username,
    email: userEmail ?? null,
    passwordHash: await hashPassword(password),
  });
  audit(ctx, 'user_create', { namespace: account.name }, { username: account.name, email: account.email });
  return account;
}

/** Quay's view of the signed-in user, with the time machine window of their namespace. */
async function userView(ctx: ApiContext, user: UserIdentity): Promise<Record<string, unknown>> {
  const services = ctx.services;
  const account = await services.accounts.accounts.getAccountById(user.id);
  if (account === undefined) throw notFound('user not found');
  const orgs = await services.accounts.teams.organizationsOf(account.id);
  return {
    anonymous: false,
    username: account.name,
    email: account.email,
    verified: true,
    super_user: user.superuser,
    can_create_repo: true,
    tag_expiration_s: await namespaceWindowS(services, account),
    organizations: orgs.map(({ organization, roles }) => ({
      name: organization.name,
      is_org_admin: roles.includes('admin') || user.superuser,
      can_create_repo: roles.includes('admin') || roles.includes('creator') || user.superuser,
    })),
  };
}

/**
 * PUT /user/'s body: Quay's `password` (the new one) and `tag_expiration_s`. Quay asks for a fresh sign-in before a
 * password change; Quayside asks for the current password in the same request (`current_password`), so that
 * neither a stolen session cookie nor an app-specific token can take the account over.
 */
const UpdateUserBody = NamespaceWindowBody.extend({
  password: z.string().max(MAX_PASSWORD_LENGTH).optional(),
  current_password: z.string().max(MAX_PASSWORD_LENGTH).optional(),
});

/** Changes the caller's own password after checking the current one; every session of the account ends. */
async function changeOwnPassword(ctx: ApiContext, account: AccountRecord, password: string, current: string | undefined): Promise<void> {
  if (current === undefined) throw badRequest('changing the password needs current_password, the password in use now');
  // Checked as a login is (the same throttle), so a stolen session cannot be used to guess the password.
  const confirmed = await ctx.services.authenticator.confirmPassword(account.name, current, ctx.address);
  if (!confirmed.ok) {
    audit(ctx, 'user_change_password_failed', { namespace: account.name }, { username: account.name, reason: confirmed.reason });
    if (confirmed.reason === 'throttled') throw tooManyRequests(confirmed.message, confirmed.retryAfterS);
    throw forbidden('current_password is not the password of this account');
  }
  checkName(passwordProblem(password));
  await ctx.services.accounts.accounts.setPasswordHash(account.id, await hashPassword(password));
  // Every session, this one included, must sign in again with the new password.
  await ctx.services.accounts.sessions.deleteForAccount(account.id);
  audit(ctx, 'user_change_password', { namespace: account.name }, { username: account.name });
}

/** Registers /user/ and /superuser/users/. */
export function userRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'GET',
    url: slashed('/user/'),
    access: 'user',
    handler: async (ctx) => ok(await userView(ctx, ctx.identity)),
  });

  // Quay's changeUserDetails; of its fields Quayside reads the time machine window of the user's namespace and
  // the password.
  route(app, services, {
    method: 'PUT',
    url: slashed('/user/'),
    access: 'user',
    handler: async (ctx) => {
      const body = parseBody(UpdateUserBody, ctx.request.body);
      const account = await services.accounts.accounts.getAccountById(ctx.identity.id);
      if (account === undefined) throw notFound('user not found');
      if (body.password !== undefined) await changeOwnPassword(ctx, account, body.password, body.current_password);
      if (body.tag_expiration_s !== undefined) await changeNamespaceWindow(ctx, account, body.tag_expiration_s, 'user_change_tag_expiration');
      return ok(await userView(ctx, ctx.identity));
    },
  });

  route(app, services, {
    method: 'POST',
    url: slashed('/user/'),
    access: 'public',
    handler: async (ctx) => {
      const superuser = ctx.identity.kind === 'user' && ctx.identity.superuser;
      if (!services.options.userCreation && !superuser) throw forbidden('user creation is disabled (FEATURE_USER_CREATION)');
      const body = parseBody(NewUserBody, ctx.request.body);
      const account = await createUser(ctx, body.username, body.password, body.email);
      return created({ username: account.name, email: account.email, anonymous: false, verified: true });
    },
  });

  route(app, services, {
    method: 'GET',
    url: slashed('/superuser/users/'),
    access: 'superuser',
    handler: async (ctx) => {
      const query = parseQuery(ListQuery, ctx.request.query);
      const limit = query.limit ?? 100;
      const page = await services.accounts.accounts.listAccounts({ last: query.next_page, limit: limit + 1 }, 'user');
      const more = page.length > limit;
      const users = page.slice(0, limit);
      return ok({
        users: users.map((account) => superuserUserView(services, account)),
        ...(more ? { next_page: users[users.length - 1]!.name } : {}),
      });
    },
  });

  route(app, services, {
    method: 'POST',
    url: slashed('/superuser/users/'),
    access: 'superuser',
    handler: async (ctx) => {
      const body = parseBody(SuperuserNewUserBody, ctx.request.body);
      const password = generatedPassword();
      const account = await createUser(ctx, body.username, password, body.email);
      return ok({ username: account.name, email: account.email, password, encrypted_password: null });
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/superuser/users/:username',
    access: 'superuser',
    handler: async (ctx) => {
      const account = await loadUser(ctx, ctx.params.username ?? '');
      if (services.options.superUsers.has(account.name)) throw badRequest('a superuser cannot be deleted (remove it from SUPER_USERS first)');
      await services.accounts.accounts.deleteAccount(account.id);
      audit(ctx, 'user_delete', { namespace: account.name }, { username: account.name });
      return noContent();
    },
  });

  route(app, services, {
    method: 'PUT',
    url: '/superuser/users/:username',
    access: 'superuser',
    handler: async (ctx) => {
      const account = await loadUser(ctx, ctx.params.username ?? '');
      const body = parseBody(SuperuserUpdateBody, ctx.request.body);
      // Quay lets a superuser change other superusers only through the config; themselves, yes.
      if (services.options.superUsers.has(account.name) && account.id !== ctx.identity.id) {
        throw forbidden('another superuser cannot be changed through the API');
      }
      if (body.enabled === false && account.id === ctx.identity.id) throw badRequest('you cannot disable your own account');
      if (body.password !== undefined) {
        checkName(passwordProblem(body.password));
        await services.accounts.accounts.setPasswordHash(account.id, await hashPassword(body.password));
        // Whoever held a session (perhaps the reason for the change) must sign in with the new password.
        await services.accounts.sessions.deleteForAccount(account.id);
        audit(ctx, 'user_change_password', { namespace: account.name }, { username: account.name });
      }
      if (body.email !== undefined && body.email !== account.email) {
        await services.accounts.accounts.setEmail(account.id, body.email);
        audit(ctx, 'user_change_email', { namespace: account.name }, { username: account.name, email: body.email, old_email: account.email });
      }
      if (body.enabled !== undefined && body.enabled !== account.enabled) {
        await services.accounts.accounts.setEnabled(account.id, body.enabled);
        // Sessions of a disabled user are refused anyway; removing them keeps a later re-enable from reviving them.
        if (!body.enabled) await services.accounts.sessions.deleteForAccount(account.id);
        audit(ctx, body.enabled ? 'user_enable' : 'user_disable', { namespace: account.name }, { username: account.name });
      }
      const updated = await loadUser(ctx, account.name);
      return ok(superuserUserView(services, updated));
    },
  });
}
