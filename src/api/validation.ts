import { z } from 'zod';
import { REPOSITORY_ROLES, TEAM_ROLES } from '../db/account-metadata.js';
import { badRequest } from './errors.js';

/**
 * Input checking for /api/v1: every body, query and path value goes through a zod schema or a names.ts
 * check, and a failure becomes one readable 400 naming the field.
 */

/** Longest free-text fields we keep (descriptions, titles); the columns are text, the limit is ours. */
export const MAX_DESCRIPTION_LENGTH = 4096;
/** Repository descriptions are Markdown documents (Quay's README view), so they get far more room. */
export const MAX_REPOSITORY_DESCRIPTION_LENGTH = 64 * 1024;
export const MAX_TITLE_LENGTH = 255;
export const MAX_EMAIL_LENGTH = 255;
/** Passwords are bcrypt input; bcrypt ignores bytes past 72, longer ones are refused by passwordProblem. */
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_NAME_INPUT_LENGTH = 255;

export const repositoryRole = z.enum(REPOSITORY_ROLES as ['read', 'write', 'admin']);
export const teamRole = z.enum(TEAM_ROLES as ['member', 'creator', 'admin']);
export const visibility = z.enum(['public', 'private']);
export const email = z.email().max(MAX_EMAIL_LENGTH);
export const nameInput = z.string().min(1).max(MAX_NAME_INPUT_LENGTH);
export const repositoryDescription = z
  .string()
  .max(MAX_REPOSITORY_DESCRIPTION_LENGTH, `must be at most ${MAX_REPOSITORY_DESCRIPTION_LENGTH} characters (64 KiB)`);

function describeIssues(error: z.ZodError, what: string): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? `${what}: ${issue.message}` : `${path}: ${issue.message}`;
  });
  return parts.join('; ');
}

/** Parses a JSON body; a missing body counts as {} when `optional`, else it is an error. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, options: { optional?: boolean } = {}): z.output<S> {
  if (body === undefined || body === null) {
    if (!options.optional) throw badRequest('a JSON object body is required');
    body = {};
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
  const result = schema.safeParse(body);
  if (!result.success) throw badRequest(describeIssues(result.error, 'body'));
  return result.data;
}

/** Parses the query string (Fastify's parsed object: repeated parameters arrive as arrays and are refused). */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const result = schema.safeParse(query ?? {});
  if (!result.success) throw badRequest(describeIssues(result.error, 'query'));
  return result.data;
}

/** Throws a 400 when a names.ts check found a problem. */
export function checkName(problem: string | undefined): void {
  if (problem !== undefined) throw badRequest(problem);
}

/** Query booleans as Quay's clients send them ("true", "false", "1", "0"). */
export const queryBoolean = z
  .enum(['true', 'false', 'True', 'False', '1', '0'])
  .transform((value) => value === 'true' || value === 'True' || value === '1');

/** A positive integer in the query string, within [min, max]. */
export function queryInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}
