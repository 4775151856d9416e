// The OCI error table lives with the HTTP plumbing that /v2, /v2/auth and the repository creator share;
// this path stays so registry code keeps importing its errors from its own folder.
export { ERROR_CODES, RegistryError, type ErrorCode } from '../http/oci-errors.js';
