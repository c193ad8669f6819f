/**
 * A fake Kubernetes API server on loopback, for driving the real @kubernetes/client-node in tests. It keeps only
 * what the control plane uses (distributed.md §5.4):
 * - namespaces; namespaced services, secrets, deployments, and deployments/{name}/scale;
 * - GET (object or list, with labelSelector), POST, PUT (resourceVersion checked: 409 Conflict), PATCH
 *   (merge, strategic merge with lists merged by name, JSON patch), DELETE;
 * - errors as `Status` objects; every write bumps metadata.resourceVersion; spec changes bump generation;
 * - objects are validated with kubernetes-models (422 Invalid), names must be DNS-1123 labels;
 * - a Deployment controller: after a change, status follows (observedGeneration, a surge-first rollout, then
 *   ready/available replicas). An image whose tag is `crashloop` never becomes ready and ends with
 *   Progressing=False, reason ProgressDeadlineExceeded.
 * Every request is recorded (method, path, content type, body) for assertions.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';

type Obj = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType?: string;
  body?: unknown;
}

interface Kind {
  kind: string;
  apiVersion: string;
  validate(o: Obj): void;
}

const KINDS: Record<string, Kind> = {
  namespaces: { kind: 'Namespace', apiVersion: 'v1', validate: (o) => new Namespace(o as never).validate() },
  services: { kind: 'Service', apiVersion: 'v1', validate: (o) => new Service(o as never).validate() },
  secrets: { kind: 'Secret', apiVersion: 'v1', validate: (o) => new Secret(o as never).validate() },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1', validate: (o) => new Deployment(o as never).validate() },
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Lists that strategic merge patch merges by `name` instead of replacing. */
const MERGE_BY_NAME = new Set(['containers', 'initContainers', 'env', 'volumes', 'volumeMounts', 'ports', 'imagePullSecrets']);

class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function strategicMerge(target: any, patch: any, key = ''): any {
  if (Array.isArray(patch)) {
    if (!MERGE_BY_NAME.has(key) || !Array.isArray(target)) return patch;
    const out = target.map((x: Obj) => ({ ...x }));
    for (const item of patch) {
      const i = out.findIndex((x: Obj) => x.name === item.name);
      if (item.$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
      } else if (i >= 0) out[i] = strategicMerge(out[i], item);
      else out.push(item);
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return patch;
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return rest;
  }
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = strategicMerge(out[k], v, k);
  }
  return out;
}

function jsonPatch(target: any, ops: Array<{ op: string; path: string; value?: unknown }>): any {
  const doc = structuredClone(target);
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let parent = doc;
    for (const p of parts) {
      if (parent[p] === undefined) throw new HttpError(422, 'Invalid', `json patch: path ${op.path} does not exist`);
      parent = parent[p];
    }
    if (op.op === 'add' || op.op === 'replace') {
      if (Array.isArray(parent) && op.op === 'add') parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
      else parent[last] = op.value;
    } else if (op.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new HttpError(422, 'Invalid', `json patch test failed at ${op.path}`);
    } else throw new HttpError(422, 'Invalid', `json patch op ${op.op} is not supported`);
  }
  return doc;
}

function matchesSelector(obj: Obj, selector: string | null): boolean {
  if (!selector) return true;
  const labels = obj.metadata?.labels ?? {};
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? k in labels : labels[k] === v;
  });
}

function templateHash(d: Obj): string {
  return createHash('sha256').update(JSON.stringify(d.spec?.template ?? {})).digest('hex').slice(0, 10);
}

export interface FakeKubeOptions {
  /** Delay of each controller step (default 20 ms). */
  stepMs?: number;
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** key `${resource}/${namespace}/${name}` (namespace empty for namespaces) → object. */
  readonly objects = new Map<string, Obj>();
  private resourceVersion = 1;
  private readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Pod-template hash each Deployment has fully rolled out (the "current ReplicaSet"). */
  private readonly rolledOut = new Map<string, string>();
  private readonly stepMs: number;
  url = '';

  constructor(options: FakeKubeOptions = {}) {
    this.stepMs = options.stepMs ?? 20;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get(resource: string, namespace: string, name: string): Obj | undefined {
    return this.objects.get(`${resource}/${namespace}/${name}`);
  }

  private status(code: number, reason: string, message: string): Obj {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', reason, message, code };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const contentType = req.headers['content-type']?.split(';')[0];
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search, contentType, body });
    const send = (code: number, payload: Obj) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      const [code, payload] = this.route(req.method ?? 'GET', url, contentType, body);
      send(code, payload);
    } catch (err) {
      if (err instanceof HttpError) send(err.code, this.status(err.code, err.reason, err.message));
      else send(500, this.status(500, 'InternalError', String(err)));
    }
  }

  private route(method: string, url: URL, contentType: string | undefined, body: any): [number, Obj] {
    const p = url.pathname.split('/').filter(Boolean);
    // /api/v1/namespaces[/{name}]
    // /api/v1/namespaces/{ns}/{resource}[/{name}]
    // /apis/apps/v1/namespaces/{ns}/deployments[/{name}[/scale]]
    // /apis/apps/v1/deployments (all namespaces)
    let rest: string[];
    if (p[0] === 'api' && p[1] === 'v1') rest = p.slice(2);
    else if (p[0] === 'apis' && p[1] === 'apps' && p[2] === 'v1') rest = p.slice(3);
    else throw new HttpError(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);

    if (rest[0] === 'namespaces' && rest.length <= 2) {
      return this.serve('namespaces', '', rest[1], undefined, method, url, contentType, body);
    }
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const [, ns, resource, name, sub] = rest;
      if (!KINDS[resource] || resource === 'namespaces') throw new HttpError(404, 'NotFound', `unknown resource ${resource}`);
      return this.serve(resource, ns, name, sub, method, url, contentType, body);
    }
    if (rest.length === 1 && KINDS[rest[0]] && method === 'GET') {
      const items = [...this.objects.entries()]
        .filter(([k, o]) => k.startsWith(`${rest[0]}/`) && matchesSelector(o, url.searchParams.get('labelSelector')))
        .map(([, o]) => o);
      return [200, { kind: `${KINDS[rest[0]].kind}List`, apiVersion: KINDS[rest[0]].apiVersion, metadata: { resourceVersion: String(this.resourceVersion) }, items }];
    }
    throw new HttpError(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
  }

  private serve(
    resource: string,
    ns: string,
    name: string | undefined,
    sub: string | undefined,
    method: string,
    url: URL,
    contentType: string | undefined,
    body: any,
  ): [number, Obj] {
    const kind = KINDS[resource];
    const key = (n: string) => `${resource}/${ns}/${n}`;
    if (ns && !this.objects.has(`namespaces//${ns}`)) {
      throw new HttpError(404, 'NotFound', `namespaces "${ns}" not found`);
    }
    if (!name) {
      if (method === 'GET') {
        const items = [...this.objects.entries()]
          .filter(([k, o]) => k.startsWith(`${resource}/${ns}/`) && matchesSelector(o, url.searchParams.get('labelSelector')))
          .map(([, o]) => o);
        return [200, { kind: `${kind.kind}List`, apiVersion: kind.apiVersion, metadata: { resourceVersion: String(this.resourceVersion) }, items }];
      }
      if (method === 'POST') {
        const obj = this.admit(kind, body, ns);
        if (this.objects.has(key(obj.metadata.name))) {
          throw new HttpError(409, 'AlreadyExists', `${resource} "${obj.metadata.name}" already exists`);
        }
        obj.metadata.uid = createHash('sha1').update(key(obj.metadata.name) + this.resourceVersion).digest('hex');
        obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        obj.metadata.generation = 1;
        this.store(resource, key(obj.metadata.name), obj);
        return [201, obj];
      }
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on a ${resource} list`);
    }

    const current = this.objects.get(key(name));
    if (!current) throw new HttpError(404, 'NotFound', `${resource} "${name}" not found`);

    if (sub === 'scale') {
      if (resource !== 'deployments') throw new HttpError(404, 'NotFound', 'scale is only served for deployments');
      const scale = () => ({
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: { name, namespace: ns, resourceVersion: current.metadata.resourceVersion },
        spec: { replicas: current.spec.replicas },
        status: { replicas: current.status?.replicas ?? 0, selector: Object.entries(current.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',') },
      });
      if (method === 'GET') return [200, scale()];
      if (method === 'PATCH' || method === 'PUT') {
        const patched = method === 'PUT' ? body : this.patch(scale(), contentType, body);
        const replicas = patched?.spec?.replicas;
        if (!Number.isInteger(replicas) || replicas < 0) throw new HttpError(422, 'Invalid', 'spec.replicas must be a non-negative integer');
        const next = structuredClone(current);
        next.spec.replicas = replicas;
        this.update(resource, key(name), current, next);
        return [200, scale()];
      }
      throw new HttpError(405, 'MethodNotAllowed', `${method} on scale`);
    }
    if (sub) throw new HttpError(404, 'NotFound', `unknown subresource ${sub}`);

    if (method === 'GET') return [200, current];
    if (method === 'DELETE') {
      this.objects.delete(key(name));
      if (resource === 'namespaces') {
        for (const k of [...this.objects.keys()]) if (k.split('/')[1] === name) this.objects.delete(k);
      }
      return [200, resource === 'deployments' ? current : this.status(200, '', `${resource} "${name}" deleted`)];
    }
    if (method === 'PUT') {
      const obj = this.admit(kind, body, ns);
      if (obj.metadata.name !== name) throw new HttpError(400, 'BadRequest', 'the name in the body does not match the URL');
      if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
        throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      return [200, this.update(resource, key(name), current, obj)];
    }
    if (method === 'PATCH') {
      const patched = this.patch(current, contentType, body);
      const obj = this.admit(kind, patched, ns);
      return [200, this.update(resource, key(name), current, obj)];
    }
    throw new HttpError(405, 'MethodNotAllowed', method);
  }

  private patch(target: Obj, contentType: string | undefined, body: any): Obj {
    if (contentType === 'application/merge-patch+json') return mergePatch(target, body);
    if (contentType === 'application/strategic-merge-patch+json') return strategicMerge(target, body);
    if (contentType === 'application/json-patch+json') return jsonPatch(target, body);
    throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${contentType})`);
  }

  /** Checks kind, name and schema; returns a copy with server-owned fields dropped. */
  private admit(kind: Kind, body: any, ns: string): Obj {
    if (!body || typeof body !== 'object') throw new HttpError(400, 'BadRequest', 'the body must be an object');
    const obj = structuredClone(body);
    obj.kind ??= kind.kind;
    obj.apiVersion ??= kind.apiVersion;
    if (obj.kind !== kind.kind) throw new HttpError(400, 'BadRequest', `expected kind ${kind.kind}, got ${obj.kind}`);
    const name = obj.metadata?.name;
    if (typeof name !== 'string' || name.length > 63 || !DNS_LABEL.test(name)) {
      throw new HttpError(422, 'Invalid', `${kind.kind} "${name}" is invalid: metadata.name: must be a DNS-1123 label of at most 63 characters`);
    }
    if (ns) {
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) throw new HttpError(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request');
      obj.metadata.namespace = ns;
    }
    const { status: _status, ...forSchema } = obj;
    try {
      kind.validate(forSchema);
    } catch (err) {
      throw new HttpError(422, 'Invalid', `${kind.kind} "${name}" is invalid: ${(err as Error).message}`);
    }
    if (kind.kind === 'Deployment') {
      if (!Number.isInteger(obj.spec.replicas ?? 1) || (obj.spec.replicas ?? 1) < 0) throw new HttpError(422, 'Invalid', 'spec.replicas: must be greater than or equal to 0');
      const selector = obj.spec.selector?.matchLabels ?? {};
      const podLabels = obj.spec.template?.metadata?.labels ?? {};
      if (!Object.entries(selector).every(([k, v]) => podLabels[k] === v)) {
        throw new HttpError(422, 'Invalid', 'spec.template.metadata.labels: `selector` does not match template `labels`');
      }
    }
    return obj;
  }

  private store(resource: string, key: string, obj: Obj): void {
    obj.metadata.resourceVersion = String(++this.resourceVersion);
    if (resource === 'deployments') {
      obj.spec.replicas ??= 1;
      obj.status ??= { observedGeneration: 0, replicas: 0, readyReplicas: 0, updatedReplicas: 0, availableReplicas: 0, conditions: [] };
      this.objects.set(key, obj);
      this.reconcileDeployment(key);
    } else {
      if (resource === 'namespaces') obj.status = { phase: 'Active' };
      this.objects.set(key, obj);
    }
  }

  private update(resource: string, key: string, current: Obj, next: Obj): Obj {
    next.metadata = { ...current.metadata, ...next.metadata, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp };
    next.metadata.generation = current.metadata.generation ?? 1;
    if (JSON.stringify(next.spec) !== JSON.stringify(current.spec)) next.metadata.generation += 1;
    next.status = current.status;
    this.store(resource, key, next);
    return next;
  }

  /** The Deployment controller: one step per `stepMs` until the status matches the spec. */
  private reconcileDeployment(key: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const d = this.objects.get(key);
      if (!d) return;
      const want = d.spec.replicas;
      const hash = templateHash(d);
      const s = d.status;
      const crashing = String(d.spec.template?.spec?.containers?.[0]?.image ?? '').endsWith(':crashloop');
      const before = JSON.stringify(s);
      s.observedGeneration = d.metadata.generation;
      if (this.rolledOut.get(key) !== hash && s.replicas > 0) {
        // Rollout, surge first: one new pod is added, and an old one leaves when a new one is ready.
        s.updatedReplicas = crashing ? 0 : Math.min(want, (s.updatedReplicas ?? 0) + 1);
        s.replicas = Math.max(want, s.replicas);
        if (s.updatedReplicas >= want) {
          this.rolledOut.set(key, hash);
          s.replicas = want;
        }
      } else {
        this.rolledOut.set(key, hash);
        s.replicas = want;
        s.updatedReplicas = want;
      }
      s.readyReplicas = crashing ? 0 : Math.min(s.replicas, want);
      s.availableReplicas = s.readyReplicas;
      s.conditions = [
        { type: 'Available', status: s.availableReplicas >= want ? 'True' : 'False', reason: s.availableReplicas >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable' },
        crashing && want > 0
          ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${d.metadata.name}" has timed out progressing.` }
          : { type: 'Progressing', status: 'True', reason: this.rolledOut.get(key) === hash && s.updatedReplicas === want ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated' },
      ];
      if (s.readyReplicas === 0) {
        delete s.readyReplicas;
        delete s.availableReplicas;
      }
      if (JSON.stringify(s) !== before) {
        d.metadata.resourceVersion = String(++this.resourceVersion);
        this.reconcileDeployment(key);
      }
    }, this.stepMs);
    this.timers.add(timer);
  }
}
