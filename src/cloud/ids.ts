import { randomBytes } from 'node:crypto';

/**
 * Ids of users, teams and clusters: 16 lowercase hex characters. They are valid DNS-1123 labels, so a team id
 * can name a Kubernetes namespace and a cluster id a Deployment without any escaping.
 */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

export const ID_PATTERN = /^[a-z0-9]{1,40}$/;
