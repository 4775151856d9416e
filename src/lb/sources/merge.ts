/**
 * Several sources, one balancer: e.g. the balancer settings and static services in a YAML file, dynamic
 * services in etcd. Merging never guesses: the balancer settings come from at most one source and a service
 * name belongs to one source; anything declared twice is an error naming both places.
 */
import type { SourceDocument } from '../document.js';
import { LbConfigError, type LbIssue } from '../errors.js';
import type { LoadBalancerModel } from '../model.js';
import { buildModel } from '../validate.js';

/** Merge documents into one (not yet cross-checked); throws LbConfigError on conflicts. */
export function mergeDocuments(documents: readonly SourceDocument[]): SourceDocument {
  const issues: LbIssue[] = [];
  let loadBalancer: SourceDocument['loadBalancer'] = null;
  const services: SourceDocument['services'] = [];
  const owners = new Map<string, string>();
  for (const document of documents) {
    if (document.loadBalancer !== null) {
      if (loadBalancer === null) loadBalancer = document.loadBalancer;
      else {
        issues.push({
          origin: document.loadBalancer.origin,
          path: document.loadBalancer.naming.prefix,
          message: `load balancer settings are already given by ${loadBalancer.origin} (only one source may set them)`,
        });
      }
    }
    for (const service of document.services) {
      const owner = owners.get(service.name);
      if (owner !== undefined) {
        issues.push({ origin: service.origin, path: service.naming.prefix, message: `service ${service.name} is already declared by ${owner}` });
        continue;
      }
      owners.set(service.name, service.origin);
      services.push(service);
    }
  }
  if (issues.length > 0) throw new LbConfigError(issues);
  const files = [...new Set(documents.flatMap((d) => d.files ?? []))];
  return { origin: documents.map((d) => d.origin).join(' + '), loadBalancer, services, files };
}

/** Merge the sources' documents and validate the result into one model; throws LbConfigError. */
export function mergeSources(documents: readonly SourceDocument[]): LoadBalancerModel {
  return buildModel(mergeDocuments(documents));
}
