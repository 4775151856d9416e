import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashSecret, newSecretToken } from '../auth/secrets.js';
import type { AuthServices } from '../auth/services.js';
import { audit, ok } from './context.js';
import { ApiError, forbidden, tooManyRequests } from './errors.js';
import { route } from './route.js';
import { readCookie, SESSION_COOKIE, sessionCookie } from './session.js';
import { MAX_NAME_INPUT_LENGTH, MAX_PASSWORD_LENGTH, parseBody } from './validation.js';

const SigninBody = z.object({
  username: z.string().min(1).max(MAX_NAME_INPUT_LENGTH),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

/** POST /signin (a session cookie for a user's password) and POST /signout. */
export function signinRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'POST',
    url: '/signin',
    access: 'public',
    handler: async (ctx) => {
      // Login CSRF: a form on another site must not sign the browser in as someone else.
      const mediaType = (ctx.request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (mediaType !== 'application/json') throw new ApiError(415, 'unsupported_media_type', 'sign in with a JSON body (Content-Type: application/json)');
      const body = parseBody(SigninBody, ctx.request.body);
      const result = await services.authenticator.login(body.username, body.password, ctx.address);
      if (!result.ok) {
        if (result.reason === 'throttled') throw tooManyRequests(result.message, result.retryAfterS);
        // Quay's sign-in failure body carries invalidCredentials; the error fields are ours as everywhere else.
        const error = forbidden(result.message);
        return { status: 403, body: { ...error.toBody(), invalidCredentials: result.reason === 'invalid', needsEmailVerification: false, message: result.message } };
      }
      if (result.identity.kind !== 'user') throw forbidden('robot accounts cannot use the API');
      const sessionId = newSecretToken();
      const lifetimeS = services.options.sessionLifetimeS;
      await services.accounts.sessions.create(hashSecret(sessionId), result.identity.id, new Date(Date.now() + lifetimeS * 1000));
      return { status: 200, body: { success: true }, headers: { 'set-cookie': sessionCookie(sessionId, lifetimeS, services.options.sessionCookieSecure) } };
    },
  });

  route(app, services, {
    method: 'POST',
    url: '/signout',
    access: 'public',
    handler: async (ctx) => {
      const sessionId = readCookie(ctx.request.headers.cookie, SESSION_COOKIE);
      if (sessionId !== undefined && sessionId.length > 0 && sessionId.length <= 512) {
        await services.accounts.sessions.delete(hashSecret(sessionId));
      }
      if (ctx.via === 'session') audit(ctx, 'logout_success', { namespace: ctx.identity.kind === 'user' ? ctx.identity.name : null }, {});
      const result = ok({ success: true });
      result.headers = { 'set-cookie': sessionCookie('', 0, services.options.sessionCookieSecure) };
      return result;
    },
  });
}
