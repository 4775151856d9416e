// The configuration files of the test object-storage server (Keystone, the Swift servers, the proxy), as pure
// functions of the ports and directories, so the starter only writes what these return.

export interface KeystoneConfig {
  /** The scratch directory: SQLite database, fernet and credential keys. */
  root: string;
}

/** keystone.conf: SQLite backend, fernet tokens, no cache, logs to stderr. */
export function renderKeystoneConf({ root }: KeystoneConfig): string {
  return [
    '[DEFAULT]',
    'use_stderr = true',
    'log_file =',
    '[database]',
    `connection = sqlite:///${root}/keystone.db`,
    '[token]',
    'provider = fernet',
    // One hour, as Keystone's default; the driver's expiry handling is tested with an injected clock.
    'expiration = 3600',
    '[fernet_tokens]',
    `key_repository = ${root}/fernet-keys`,
    '[fernet_receipts]',
    `key_repository = ${root}/fernet-keys`,
    '[credential]',
    `key_repository = ${root}/credential-keys`,
    '[cache]',
    'enabled = false',
    '[identity]',
    // bcrypt's cheapest cost: every password auth would otherwise burn ~0.3 s of a shared 2-core machine.
    'password_hash_rounds = 4',
    '',
  ].join('\n');
}

export interface SwiftPorts {
  account: number;
  container: number;
  object: number;
  memcached: number;
  keystone: number;
}

export interface SwiftLayout {
  /** swift_dir: swift.conf and the rings. */
  swiftDir: string;
  /** devices: one device directory `d1` below it. */
  devicesDir: string;
  /** recon cache and other state the servers insist on writing somewhere. */
  stateDir: string;
}

/** The hash prefix/suffix and the single storage policy; read from swift_dir by every server. */
export function renderSwiftConf(): string {
  return [
    '[swift-hash]',
    'swift_hash_path_suffix = quayside-test-suffix',
    'swift_hash_path_prefix = quayside-test-prefix',
    '[storage-policy:0]',
    'name = Policy-0',
    'default = yes',
    '',
  ].join('\n');
}

/** An account, container or object server on loopback, one process (workers = 0), running as root. */
export function renderBackendConf(kind: 'account' | 'container' | 'object', port: number, layout: SwiftLayout): string {
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    'workers = 0',
    'user = root',
    `swift_dir = ${layout.swiftDir}`,
    `devices = ${layout.devicesDir}`,
    'mount_check = false',
    'disable_fallocate = true',
    `recon_cache_path = ${layout.stateDir}`,
    `log_name = ${kind}-server`,
    'log_level = WARNING',
    '[pipeline:main]',
    `pipeline = healthcheck ${kind}-server`,
    `[app:${kind}-server]`,
    `use = egg:swift#${kind}`,
    '[filter:healthcheck]',
    'use = egg:swift#healthcheck',
    '',
  ].join('\n');
}

export interface ProxyConfig {
  port: number;
  /**
   * authtoken's token_cache_time: how long the proxy trusts a Keystone token it validated (10 s by default
   * here, so that a revoked token is refused within seconds; keystonemiddleware's own default is 300 s).
   */
  tokenCacheSeconds?: number;
  ports: SwiftPorts;
  layout: SwiftLayout;
  /** The Keystone service user the proxy uses to validate tokens and S3 signatures. */
  serviceUser: { name: string; password: string; project: string };
  /** tempauth's one account: `user_<account>_<user> = <key> .admin`. */
  tempauth: { account: string; user: string; key: string; resellerPrefix: string };
  /**
   * 'tempauth-only' leaves Keystone out of the pipeline: authtoken sends every X-Auth-Token it has not
   * validated (tempauth's included, whose failures it does not cache) to Keystone, ~0.3 s a request here.
   */
  auth?: 'all' | 'tempauth-only';
}

/**
 * The proxy: tempauth (v1) and Keystone (authtoken + keystoneauth) side by side with distinct reseller
 * prefixes, s3api with s3token in front of both (delay_auth_decision, so tempauth-signed S3 requests still
 * reach tempauth), tempurl, SLO. Accounts are created on first use.
 */
export function renderProxyConf(config: ProxyConfig): string {
  const keystone = `http://127.0.0.1:${config.ports.keystone}`;
  const memcache = `127.0.0.1:${config.ports.memcached}`;
  const service = config.serviceUser;
  const serviceAuth = [
    'auth_type = password',
    `auth_url = ${keystone}/v3`,
    `username = ${service.name}`,
    `password = ${service.password}`,
    `project_name = ${service.project}`,
    'user_domain_id = default',
    'project_domain_id = default',
  ];
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${config.port}`,
    'workers = 0',
    'user = root',
    `swift_dir = ${config.layout.swiftDir}`,
    'log_name = proxy-server',
    'log_level = WARNING',
    '[pipeline:main]',
    config.auth === 'tempauth-only'
      ? 'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempurl s3api tempauth bulk copy slo dlo proxy-logging proxy-server'
      : 'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempurl authtoken s3api s3token keystoneauth tempauth bulk copy slo dlo proxy-logging proxy-server',
    '[app:proxy-server]',
    'use = egg:swift#proxy',
    'account_autocreate = true',
    'allow_account_management = true',
    // A stopped backend must fail fast, not after the default 10 s per node.
    'conn_timeout = 2',
    'node_timeout = 20',
    '[filter:catch_errors]',
    'use = egg:swift#catch_errors',
    '[filter:gatekeeper]',
    'use = egg:swift#gatekeeper',
    '[filter:healthcheck]',
    'use = egg:swift#healthcheck',
    '[filter:proxy-logging]',
    'use = egg:swift#proxy_logging',
    '[filter:cache]',
    'use = egg:swift#memcache',
    `memcache_servers = ${memcache}`,
    '[filter:listing_formats]',
    'use = egg:swift#listing_formats',
    '[filter:tempurl]',
    'use = egg:swift#tempurl',
    'allowed_digests = sha256 sha512',
    '[filter:authtoken]',
    'paste.filter_factory = keystonemiddleware.auth_token:filter_factory',
    `www_authenticate_uri = ${keystone}/v3`,
    ...serviceAuth,
    'delay_auth_decision = true',
    // Every X-Auth-Token (tempauth's too) goes to Keystone unless cached; ~0.5 s a call on a loaded machine.
    // A short cache keeps that off most requests while a revoked token is refused within seconds.
    `memcached_servers = ${memcache}`,
    `token_cache_time = ${config.tokenCacheSeconds ?? 10}`,
    'include_service_catalog = false',
    '[filter:s3api]',
    'use = egg:swift#s3api',
    'location = us-east-1',
    '[filter:s3token]',
    'use = egg:swift#s3token',
    `auth_uri = ${keystone}/v3`,
    'delay_auth_decision = true',
    // Keystone takes ~1 s per /v3/s3tokens call here: keep validated secrets in memcached and check
    // signatures locally, as production setups do.
    'secret_cache_duration = 600',
    ...serviceAuth,
    '[filter:keystoneauth]',
    'use = egg:swift#keystoneauth',
    'reseller_prefix = AUTH_',
    'operator_roles = admin, member',
    '[filter:tempauth]',
    'use = egg:swift#tempauth',
    `reseller_prefix = ${config.tempauth.resellerPrefix}`,
    `user_${config.tempauth.account}_${config.tempauth.user} = ${config.tempauth.key} .admin`,
    '[filter:bulk]',
    'use = egg:swift#bulk',
    '[filter:copy]',
    'use = egg:swift#copy',
    '[filter:slo]',
    'use = egg:swift#slo',
    '[filter:dlo]',
    'use = egg:swift#dlo',
    '',
  ].join('\n');
}
