import { z } from 'zod';

/**
 * SwiftStorage's parameters, with Quay's key names, so an existing Quay config.yaml works unchanged. Strict:
 * an unknown key (a typo) is refused instead of silently ignored. Times are in seconds, as in Quay.
 */

/** Keystone scoping and catalog options (python-swiftclient's os_options, as Quay passes them through). */
const osOptionsSchema = z.strictObject({
  tenant_id: z.string().min(1).optional(),
  project_id: z.string().min(1).optional(),
  project_name: z.string().min(1).optional(),
  user_domain_name: z.string().min(1).optional(),
  user_domain_id: z.string().min(1).optional(),
  project_domain_name: z.string().min(1).optional(),
  project_domain_id: z.string().min(1).optional(),
  region_name: z.string().min(1).optional(),
  /** Skips the catalog: the storage URL to use with the token (e.g. an internal endpoint). */
  object_storage_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});

/** Quay writes `auth_version: 3`; YAML may also give "3" or 3.0. */
const authVersionSchema = z.preprocess(
  (value) => (typeof value === 'string' && /^\s*[123](\.0)?\s*$/.test(value) ? Number(value) : value),
  z.union([z.literal(1), z.literal(2), z.literal(3)], { error: 'must be 1, 2 or 3' }),
);

export const swiftParamsSchema = z.strictObject({
  auth_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  // python-swiftclient's default, which Quay keeps when the key is absent.
  auth_version: authVersionSchema.default(1),
  swift_user: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
  swift_password: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
  swift_container: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(256, 'must be at most 256 characters')
    .refine((name) => !name.includes('/'), 'must not contain "/"'),
  storage_path: z.string({ error: 'must be a string' }).default('/'),
  os_options: osOptionsSchema.optional(),
  ca_cert_path: z.string().min(1, 'must not be empty').optional(),
  temp_url_key: z.string().min(1, 'must not be empty').optional(),
  connect_timeout: z.number({ error: 'must be a number of seconds' }).positive('must be positive').max(600, 'must be at most 600').optional(),
  retry_count: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be at least 0').max(20, 'must be at most 20').optional(),
});

export type SwiftParams = z.infer<typeof swiftParamsSchema>;
