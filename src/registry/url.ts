// URL splitting is shared with the token endpoint and lives in src/http; registry code imports it from here.
export { pathOf, queryOf } from '../http/url.js';
