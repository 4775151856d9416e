import { z } from 'zod';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord } from '../db/account-metadata.js';
import { windowName } from '../gc/tag-expiration.js';
import { audit, type ApiContext } from './context.js';
import { badRequest } from './errors.js';

/**
 * A namespace's time machine window through the API, as Quay has it: `tag_expiration_s` in the user's and the
 * organization's view, changed with PUT /user/ and PUT /organization/<org> to one of TAG_EXPIRATION_OPTIONS.
 */

/** The part of Quay's UpdateUser and UpdateOrg bodies that Quayside reads. */
export const NamespaceWindowBody = z.object({
  tag_expiration_s: z.number({ error: 'must be a whole number of seconds' }).int('must be a whole number of seconds').nonnegative().optional(),
});

/** The window in seconds that applies to the namespace: its own, else DEFAULT_TAG_EXPIRATION. */
export async function namespaceWindowS(services: AuthServices, account: AccountRecord): Promise<number> {
  return (await services.accounts.accounts.getTagExpiration(account.id)) ?? services.options.tagExpiration.defaultS;
}

/** Sets the namespace's window after Quay's checks (the feature is on, the value is one of the options). */
export async function changeNamespaceWindow(ctx: ApiContext, account: AccountRecord, seconds: number, auditKind: string): Promise<void> {
  const settings = ctx.services.options.tagExpiration;
  if (!settings.changeable) throw badRequest('the time machine window cannot be changed on this registry (FEATURE_CHANGE_TAG_EXPIRATION is off)');
  if (!settings.optionsS.includes(seconds)) {
    const choices = settings.optionsS.map((s) => `${s} (${windowName(settings, s)})`).join(', ');
    throw badRequest(`tag_expiration_s must be one of TAG_EXPIRATION_OPTIONS: ${choices}`);
  }
  await ctx.services.accounts.accounts.setTagExpiration(account.id, seconds);
  audit(ctx, auditKind, { namespace: account.name }, { tag_expiration: seconds, namespace: account.name });
}
