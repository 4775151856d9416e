import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashSecret, newSecretToken } from '../auth/secrets.js';
import type { AuthServices } from '../auth/services.js';
import type { AppTokenRecord } from '../db/account-metadata.js';
import { audit, noContent, ok } from './context.js';
import { notFound } from './errors.js';
import { quayDate } from './format.js';
import { route } from './route.js';
import { MAX_TITLE_LENGTH, parseBody } from './validation.js';

/** App-specific tokens of the signed-in user: /user/apptoken[/{uuid}]. */

const NewTokenBody = z.object({
  title: z.string().trim().min(1).max(MAX_TITLE_LENGTH),
});

const UUID_RE = /^[A-Za-z0-9-]{1,64}$/;

function tokenView(token: AppTokenRecord, code?: string) {
  return {
    uuid: token.id,
    title: token.title,
    last_accessed: token.lastUsedAt === null ? null : quayDate(token.lastUsedAt),
    created: quayDate(token.createdAt),
    expiration: token.expiresAt === null ? null : quayDate(token.expiresAt),
    ...(code === undefined ? {} : { token_code: code }),
  };
}

function requireFeature(services: AuthServices): void {
  if (!services.options.appSpecificTokens) throw notFound('app-specific tokens are disabled (FEATURE_APP_SPECIFIC_TOKENS)');
}

/** Registers /user/apptoken. */
export function appTokenRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'GET',
    url: '/user/apptoken',
    access: 'user',
    handler: async (ctx) => {
      requireFeature(services);
      const tokens = await services.accounts.appTokens.list(ctx.identity.id);
      return ok({ tokens: tokens.map((token) => tokenView(token)), only_expiring: null });
    },
  });

  route(app, services, {
    method: 'POST',
    url: '/user/apptoken',
    // Minting and revoking need a password session (access.ts), so one leaked token cannot make itself a successor.
    access: 'sessionUser',
    handler: async (ctx) => {
      requireFeature(services);
      const body = parseBody(NewTokenBody, ctx.request.body);
      const code = newSecretToken();
      const token = await services.accounts.appTokens.create(ctx.identity.id, body.title, hashSecret(code), null);
      audit(ctx, 'create_app_specific_token', { namespace: ctx.identity.name }, {
        app_specific_token_title: token.title,
        app_specific_token: token.id,
      });
      return ok({ token: tokenView(token, code) });
    },
  });

  route(app, services, {
    method: 'GET',
    url: '/user/apptoken/:uuid',
    access: 'user',
    handler: async (ctx) => {
      requireFeature(services);
      const id = ctx.params.uuid ?? '';
      const token = UUID_RE.test(id) ? await services.accounts.appTokens.get(ctx.identity.id, id) : undefined;
      if (token === undefined) throw notFound('no such app-specific token');
      return ok({ token: tokenView(token) });
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/user/apptoken/:uuid',
    access: 'sessionUser',
    handler: async (ctx) => {
      requireFeature(services);
      const id = ctx.params.uuid ?? '';
      const token = UUID_RE.test(id) ? await services.accounts.appTokens.get(ctx.identity.id, id) : undefined;
      if (token === undefined || !(await services.accounts.appTokens.revoke(ctx.identity.id, id))) throw notFound('no such app-specific token');
      audit(ctx, 'revoke_app_specific_token', { namespace: ctx.identity.name }, {
        app_specific_token_title: token.title,
        app_specific_token: token.id,
      });
      return noContent();
    },
  });
}
