import type { FastifyReply } from 'fastify';
import type { RouteHandler } from './context.js';

/** The header every /v2 response carries; clients use it to detect a v2 registry. */
export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

/** Sets the API version header on a /v2 response. */
export function setApiVersionHeader(reply: FastifyReply): void {
  reply.header(API_VERSION_HEADER, API_VERSION);
}

/** GET /v2/: the version check. Auth will answer 401 here first once it exists. */
export const getBase: RouteHandler = async ({ reply }) => {
  setApiVersionHeader(reply);
  await reply.code(200).type('application/json').send({});
};
