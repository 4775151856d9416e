import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuthServices } from '../auth/services.js';
import type { AuditFilter, AuditRecord } from '../db/account-metadata.js';
import { ok, type ApiContext, type ApiResult } from './context.js';
import { badRequest } from './errors.js';
import { quayDate } from './format.js';
import { splitRepositoryName } from './paths.js';
import type { RepositoryRouteTable } from './repository-routes.js';
import { route } from './route.js';
import { MAX_NAME_INPUT_LENGTH, parseQuery } from './validation.js';

/**
 * Audit logs of a repository, an organization, the caller's own namespace, or everything (superusers):
 * newest first, 20 a page, filtered by time, performer and kind.
 */

const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_WINDOW_MS = 7 * DAY_MS;
const PAGE_SIZE = 20;

const LogsQuery = z.object({
  starttime: z.string().max(64).optional(),
  endtime: z.string().max(64).optional(),
  performer: z.string().min(1).max(MAX_NAME_INPUT_LENGTH).optional(),
  kind: z
    .string()
    .max(1024)
    .regex(/^[a-z0-9_]{1,64}(,[a-z0-9_]{1,64})*$/, 'must be log kinds separated by commas, e.g. push_repo,pull_repo')
    .optional(),
  // The opaque cursor is the id of the last entry of the previous page.
  next_page: z.string().regex(/^[1-9]\d{0,15}$/, 'is not a cursor this server returned').optional(),
});

/**
 * A time bound as Quay takes it (MM/DD/YYYY, a whole day in UTC) or as ISO 8601. An end given as a day
 * includes that whole day, as Quay's does.
 */
export function parseTimeBound(value: string, bound: 'start' | 'end'): Date | undefined {
  const day = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value) ?? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)?.slice(0, 4);
  if (day) {
    const [first, second, third] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const [year, month, date] = value.includes('/') ? [third, first, second] : [first, second, third];
    const ms = Date.UTC(year, month - 1, date);
    const check = new Date(ms);
    if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== date) return undefined;
    return new Date(bound === 'end' ? ms + DAY_MS : ms);
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * The row's metadata with Quay's `repo` (the name without namespace) when the row is about a repository:
 * the /v2 rows (push, pull, delete) do not store it, and an organization's log must say which repository.
 */
function metadataOf(record: AuditRecord): Record<string, unknown> {
  if (record.repository === null || 'repo' in record.metadata) return record.metadata;
  return { ...record.metadata, repo: splitRepositoryName(record.repository).name };
}

function entryView(record: AuditRecord, namespaceKinds: Map<string, 'org' | 'user'>) {
  return {
    kind: record.kind,
    metadata: metadataOf(record),
    ip: record.clientAddress,
    datetime: quayDate(record.at),
    ...(record.performer === null || record.performer.kind === 'anonymous'
      ? {}
      : { performer: { kind: 'user', name: record.performer.name, is_robot: record.performer.kind === 'robot' } }),
    ...(record.namespace === null ? {} : { namespace: { kind: namespaceKinds.get(record.namespace) ?? 'user', name: record.namespace } }),
  };
}

/** Answers one logs request for the scope the route fixed (namespace, repository, or none). */
async function logsFor(ctx: ApiContext, scope: Pick<AuditFilter, 'namespace' | 'repository'>): Promise<ApiResult> {
  const query = parseQuery(LogsQuery, ctx.request.query);
  const now = Date.now();
  let start = new Date(now - DEFAULT_WINDOW_MS);
  // Exclusive bound just past now, so that what was recorded this millisecond is listed.
  let end = new Date(now + 1);
  if (query.starttime !== undefined) {
    const parsed = parseTimeBound(query.starttime, 'start');
    if (parsed === undefined) throw badRequest('starttime must be MM/DD/YYYY or an ISO 8601 date or time');
    start = parsed;
  }
  if (query.endtime !== undefined) {
    const parsed = parseTimeBound(query.endtime, 'end');
    if (parsed === undefined) throw badRequest('endtime must be MM/DD/YYYY or an ISO 8601 date or time');
    end = parsed;
    // An end alone asks for the window before it (Quay would count back from today and refuse an old end).
    if (query.starttime === undefined) start = new Date(end.getTime() - DEFAULT_WINDOW_MS);
  }
  if (end.getTime() < start.getTime()) {
    // Both bounds were given here: an end alone moves the start with it, and a start alone in the future
    // ends at now.
    const given = query.endtime === undefined ? 'now' : JSON.stringify(query.endtime);
    throw badRequest(`endtime is before starttime: ${given} comes before ${JSON.stringify(query.starttime)}; the end day must not come before the start day`);
  }
  const filter: AuditFilter = {
    ...scope,
    ...(query.performer === undefined ? {} : { performer: query.performer }),
    ...(query.kind === undefined ? {} : { kinds: query.kind.split(',') }),
    since: start,
    until: end,
  };
  const records = await ctx.services.audit.query(filter, {
    limit: PAGE_SIZE + 1,
    ...(query.next_page === undefined ? {} : { before: Number(query.next_page) }),
  });
  const page = records.slice(0, PAGE_SIZE);
  const namespaceKinds = new Map<string, 'org' | 'user'>();
  for (const name of new Set(page.flatMap((r) => (r.namespace === null ? [] : [r.namespace])))) {
    const account = await ctx.services.accounts.accounts.getAccount(name);
    namespaceKinds.set(name, account?.kind === 'organization' ? 'org' : 'user');
  }
  return ok({
    start_time: quayDate(start),
    end_time: quayDate(end),
    logs: page.map((record) => entryView(record, namespaceKinds)),
    ...(records.length > PAGE_SIZE ? { next_page: String(page[page.length - 1]!.id) } : {}),
  });
}

export const repositoryLogRoutes: RepositoryRouteTable = {
  'GET logs': {
    access: 'repository:admin',
    handler: async (ctx) => logsFor(ctx, { repository: ctx.repository.name }),
  },
};

/** Registers /organization/{org}/logs, /user/logs and /superuser/logs. */
export function logRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'GET',
    url: '/organization/:org/logs',
    access: 'orgAdmin',
    handler: async (ctx) => logsFor(ctx, { namespace: ctx.org.name }),
  });
  route(app, services, {
    method: 'GET',
    url: '/user/logs',
    access: 'user',
    handler: async (ctx) => logsFor(ctx, { namespace: ctx.identity.name }),
  });
  route(app, services, {
    method: 'GET',
    url: '/superuser/logs',
    access: 'superuser',
    handler: async (ctx) => logsFor(ctx, {}),
  });
}
