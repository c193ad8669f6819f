/** Graph helpers over a pipeline's blocks; edges are each block's `upstream_blocks`. */

export interface DagNode {
  uuid: string;
  upstream_blocks?: string[] | null;
  downstream_blocks?: string[] | null;
}

export interface DagPipeline {
  blocks: DagNode[];
}

/** A cycle as a list of uuids that starts and ends with the same block, or null when the graph is acyclic. */
export function findCycle(nodes: DagNode[]): string[] | null {
  const byUuid = new Map(nodes.map((n) => [n.uuid, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (uuid: string): string[] | null => {
    const s = state.get(uuid);
    if (s === 'done') return null;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(uuid)), uuid];
    state.set(uuid, 'visiting');
    stack.push(uuid);
    for (const up of byUuid.get(uuid)?.upstream_blocks ?? []) {
      if (!byUuid.has(up)) continue;
      const found = visit(up);
      if (found) return found;
    }
    stack.pop();
    state.set(uuid, 'done');
    return null;
  };
  for (const n of nodes) {
    const found = visit(n.uuid);
    if (found) return found.reverse();
  }
  return null;
}

/** True when the blocks' upstream links form a cycle. */
export function hasCycle(nodes: DagNode[]): boolean {
  return findCycle(nodes) !== null;
}

/**
 * The pipeline's blocks ordered so every block comes after its upstreams; among blocks that are ready at the
 * same time, list order decides. Upstream uuids not in `blocks` are ignored. Throws on a cycle.
 */
export function topologicalOrder<T extends DagNode>(pipeline: { blocks: T[] }): T[] {
  const blocks = pipeline.blocks;
  const known = new Set(blocks.map((b) => b.uuid));
  const remaining = new Map(blocks.map((b) => [b.uuid, new Set((b.upstream_blocks ?? []).filter((u) => known.has(u)))]));
  const out: T[] = [];
  const placed = new Set<string>();
  while (out.length < blocks.length) {
    const ready = blocks.filter((b) => !placed.has(b.uuid) && (remaining.get(b.uuid)?.size ?? 0) === 0);
    if (ready.length === 0) {
      const cycle = findCycle(blocks) ?? [];
      throw new Error(`A cycle was detected in this pipeline: ${cycle.join(' -> ')}.`);
    }
    for (const b of ready) {
      out.push(b);
      placed.add(b.uuid);
    }
    for (const deps of remaining.values()) for (const b of ready) deps.delete(b.uuid);
  }
  return out;
}

function closure(nodes: DagNode[], start: string, next: (n: DagNode) => string[]): string[] {
  const byUuid = new Map(nodes.map((n) => [n.uuid, n]));
  const seen = new Set<string>();
  const queue = [...next(byUuid.get(start) ?? { uuid: start })];
  while (queue.length > 0) {
    const uuid = queue.shift() as string;
    if (seen.has(uuid) || uuid === start || !byUuid.has(uuid)) continue;
    seen.add(uuid);
    queue.push(...next(byUuid.get(uuid) as DagNode));
  }
  return nodes.filter((n) => seen.has(n.uuid)).map((n) => n.uuid);
}

function downstreamOf(nodes: DagNode[]): (n: DagNode) => string[] {
  const down = new Map<string, string[]>();
  for (const n of nodes) {
    for (const u of n.upstream_blocks ?? []) down.set(u, [...(down.get(u) ?? []), n.uuid]);
  }
  return (n) => [...new Set([...(down.get(n.uuid) ?? []), ...(n.downstream_blocks ?? [])])];
}

/** Every block `blockUuid` depends on, directly or not (itself excluded), in list order. */
export function upstreamClosure(pipeline: DagPipeline, blockUuid: string): string[] {
  return closure(pipeline.blocks, blockUuid, (n) => n.upstream_blocks ?? []);
}

/** Every block that depends on `blockUuid`, directly or not (itself excluded), in list order. */
export function downstreamClosure(pipeline: DagPipeline, blockUuid: string): string[] {
  return closure(pipeline.blocks, blockUuid, downstreamOf(pipeline.blocks));
}
