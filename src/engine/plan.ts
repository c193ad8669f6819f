/**
 * The engine's decisions as pure functions of a run's DAG and its block runs' statuses (Mage's
 * PipelineScheduler.schedule rules, mage-api.md §6.3). No I/O here: the engine applies what these return with
 * guarded updates, so the same decision can be tested without a database.
 */
import type { BlockRunStatus } from './statuses.js';

export interface PlanBlock {
  uuid: string;
  upstream: string[];
}

export interface PlanInput {
  blocks: PlanBlock[];
  /** Current status per block uuid (every block of the run has one). */
  statuses: Record<string, BlockRunStatus>;
  /** Trigger setting `allow_blocks_to_fail`: a failure does not end the run until every block has finished. */
  allowBlocksToFail: boolean;
  /** `concurrency_config.block_run_limit`: most block runs of this run queued or running at once. */
  blockRunLimit?: number;
}

export interface PlanDecision {
  /** The run is over, with this status. */
  finish?: 'completed' | 'failed';
  /** Block runs to move initial -> queued now (ready, within the limit), in DAG order. */
  queue: string[];
  /** Block runs whose upstream failed: initial -> upstream_failed. */
  upstreamFailed: string[];
  /** Block runs skipped because an upstream's condition was false: initial -> condition_failed. */
  conditionFailed: string[];
  /** When the run fails early (no allow_blocks_to_fail): the not-yet-started block runs to cancel. */
  cancel: string[];
}

const DONE_OK: ReadonlySet<BlockRunStatus> = new Set(['completed']);
const FAILED: ReadonlySet<BlockRunStatus> = new Set(['failed', 'upstream_failed', 'cancelled']);
const FINISHED: ReadonlySet<BlockRunStatus> = new Set(['completed', 'failed', 'cancelled', 'upstream_failed', 'condition_failed']);

export function decide(input: PlanInput): PlanDecision {
  const statuses = { ...input.statuses };
  const decision: PlanDecision = { queue: [], upstreamFailed: [], conditionFailed: [], cancel: [] };
  const byUuid = new Map(input.blocks.map((b) => [b.uuid, b]));

  // Propagate failures and skipped conditions downstream until nothing changes (the DAG is small).
  let changed = true;
  while (changed) {
    changed = false;
    for (const block of input.blocks) {
      if (statuses[block.uuid] !== 'initial') continue;
      const ups = block.upstream.filter((u) => byUuid.has(u)).map((u) => statuses[u]);
      if (ups.some((s) => s === 'failed' || s === 'upstream_failed')) {
        statuses[block.uuid] = 'upstream_failed';
        decision.upstreamFailed.push(block.uuid);
        changed = true;
      } else if (ups.some((s) => s === 'condition_failed')) {
        statuses[block.uuid] = 'condition_failed';
        decision.conditionFailed.push(block.uuid);
        changed = true;
      }
    }
  }

  const all = Object.values(statuses);
  const anyFailed = all.some((s) => s === 'failed' || s === 'upstream_failed');
  const allFinished = all.every((s) => FINISHED.has(s));

  if (allFinished) {
    decision.finish = all.some((s) => FAILED.has(s)) ? 'failed' : 'completed';
    return decision;
  }
  if (anyFailed && !input.allowBlocksToFail) {
    decision.finish = 'failed';
    decision.cancel = input.blocks.filter((b) => statuses[b.uuid] === 'initial').map((b) => b.uuid);
    return decision;
  }

  let active = all.filter((s) => s === 'queued' || s === 'running').length;
  for (const block of input.blocks) {
    if (statuses[block.uuid] !== 'initial') continue;
    const ready = block.upstream.filter((u) => byUuid.has(u)).every((u) => DONE_OK.has(statuses[u]));
    if (!ready) continue;
    if (input.blockRunLimit !== undefined && input.blockRunLimit > 0 && active >= input.blockRunLimit) break;
    decision.queue.push(block.uuid);
    active++;
  }
  return decision;
}

/*
 * Dynamic blocks (Mage's classic fan-out, `configuration: {dynamic: true}`; data_preparation/models/block/dynamic/
 * utils.py in Mage). A dynamic block's output is a list of items; when its block run completes, every block
 * downstream of it gets one block run per item (`<block>:<item>`, the item being the metadata's `block_uuid` or
 * the index), and so do their downstream blocks, until a block with `reduce_output: true`: that one still runs per
 * item, and the blocks after it run once with every item's output gathered into one list. A dynamic child that is
 * dynamic itself fans out again when each of its block runs completes (`<block>:<item>:<parent item>`).
 * Which block runs exist is decided here from the DAG alone; the engine reads the items and applies the result.
 */

/** A block as the dynamic planner sees it. */
export interface DynamicPlanBlock {
  uuid: string;
  upstream: string[];
  /** `configuration.dynamic === true`. */
  dynamic: boolean;
  /** `configuration.reduce_output === true`. */
  reduceOutput: boolean;
}

/** A block run to create for a dynamic child: its uuid and Mage's metrics for it. */
export interface ChildBlockRun {
  block_uuid: string;
  metrics: Record<string, unknown>;
}

/** `dynamic` and `reduce_output` as Mage's classic mode reads them: only a boolean true counts. */
export function dynamicFlags(configuration: Record<string, unknown> | null | undefined): { dynamic: boolean; reduceOutput: boolean } {
  return { dynamic: configuration?.dynamic === true, reduceOutput: configuration?.reduce_output === true };
}

/**
 * Why this pipeline's dynamic blocks cannot run, or undefined. Refused, naming the setting, rather than run
 * differently from Mage: Mage's dynamic blocks v2 (`dynamic: {parent: true, ...}`, read by Mage only with
 * DYNAMIC_BLOCKS_VERSION=2), a block under two different dynamic blocks (Mage's cross product), a block both
 * dynamic and reducing, and a reduce that would gather items spawned by different block runs of a nested
 * dynamic child.
 */
export function dynamicConfigProblem(blocks: ReadonlyArray<{ uuid: string; upstream: string[]; configuration: Record<string, unknown> | null | undefined }>): string | undefined {
  for (const b of blocks) {
    const dynamic = b.configuration?.dynamic;
    if (dynamic !== undefined && dynamic !== null && typeof dynamic !== 'boolean') {
      return (
        `Block ${b.uuid} sets configuration.dynamic to ${JSON.stringify(dynamic)}: that is Mage's dynamic blocks v2 ` +
        `(dynamic: {parent: true, ...}), which Blockflow does not run. Use Mage's classic form: dynamic: true on the ` +
        `parent block and reduce_output: true on the child that gathers.`
      );
    }
    const reduce = b.configuration?.reduce_output;
    if (reduce !== undefined && reduce !== null && typeof reduce !== 'boolean') {
      return `Block ${b.uuid} sets configuration.reduce_output to ${JSON.stringify(reduce)}; it must be true or false.`;
    }
  }
  const info = blocks.map((b) => ({ uuid: b.uuid, upstream: b.upstream, ...dynamicFlags(b.configuration) }));
  const byUuid = new Map(info.map((b) => [b.uuid, b]));
  for (const b of info) {
    if (b.dynamic && b.reduceOutput && hasDynamicAncestor(b.uuid, byUuid)) {
      return `Block ${b.uuid} sets both dynamic: true and reduce_output: true under a dynamic block; Blockflow does not run that combination.`;
    }
  }
  // The fan-outs open at each block: a stack of dynamic blocks, each marked when an inner fan-out under it was
  // reduced (the block runs at that level are then spawned by different runs of the inner dynamic block).
  type Level = { opener: string; afterInnerReduce: boolean };
  const stacks = new Map<string, Level[]>();
  const visiting = new Set<string>();
  const stackOf = (uuid: string): Level[] | string => {
    const known = stacks.get(uuid);
    if (known) return known;
    if (visiting.has(uuid)) return [];
    visiting.add(uuid);
    const block = byUuid.get(uuid)!;
    let chosen: Level[] | undefined;
    for (const up of block.upstream) {
      const upBlock = byUuid.get(up);
      if (!upBlock) continue;
      const upStack = stackOf(up);
      if (typeof upStack === 'string') return upStack;
      let out = upStack.map((l) => ({ ...l }));
      if (upBlock.dynamic) out = [...out, { opener: up, afterInnerReduce: false }];
      if (upBlock.reduceOutput && out.length) {
        out = out.slice(0, -1);
        if (out.length) out[out.length - 1] = { ...out[out.length - 1], afterInnerReduce: true };
      }
      if (chosen === undefined || chosen.length === 0) chosen = out;
      else if (out.length && out[out.length - 1].opener !== chosen[chosen.length - 1].opener) {
        return `Block ${uuid} is downstream of two different dynamic blocks (${chosen[chosen.length - 1].opener} and ${out[out.length - 1].opener}); Blockflow does not run Mage's cross product of dynamic blocks.`;
      }
    }
    const result = chosen ?? [];
    stacks.set(uuid, result);
    return result;
  };
  for (const b of info) {
    const stack = stackOf(b.uuid);
    if (typeof stack === 'string') return stack;
    if (b.reduceOutput && stack.length && stack[stack.length - 1].afterInnerReduce) {
      return (
        `Block ${b.uuid} sets reduce_output: true to gather the items of ${stack[stack.length - 1].opener}, but an inner ` +
        `dynamic block was already reduced on the way; Blockflow does not run a reduce of a reduce across nested dynamic blocks.`
      );
    }
  }
  return undefined;
}

function hasDynamicAncestor(uuid: string, byUuid: ReadonlyMap<string, DynamicPlanBlock>): boolean {
  const seen = new Set<string>();
  const stack = [...(byUuid.get(uuid)?.upstream ?? [])];
  while (stack.length) {
    const up = stack.pop()!;
    if (seen.has(up)) continue;
    seen.add(up);
    const block = byUuid.get(up);
    if (!block) continue;
    if (block.dynamic) return true;
    stack.push(...block.upstream);
  }
  return false;
}

/**
 * The blocks that get a block run when the run starts, as Mage's PipelineRun.create_block_runs: those with no
 * dynamic ancestor. The others get theirs when a dynamic block's run completes (spawnChildRuns).
 */
export function initialBlockUuids(blocks: readonly DynamicPlanBlock[]): string[] {
  const byUuid = new Map(blocks.map((b) => [b.uuid, b]));
  return blocks.filter((b) => !hasDynamicAncestor(b.uuid, byUuid)).map((b) => b.uuid);
}

/**
 * The pipeline block a block run belongs to: the block of that uuid, else the part before the first `:` of a
 * dynamic child's uuid (Mage's block uuids never contain `:`).
 */
export function baseBlockUuid(blockRunUuid: string, blockUuids: ReadonlySet<string>): string | undefined {
  if (blockUuids.has(blockRunUuid)) return blockRunUuid;
  const colon = blockRunUuid.indexOf(':');
  if (colon <= 0) return undefined;
  const base = blockRunUuid.slice(0, colon);
  return blockUuids.has(base) ? base : undefined;
}

/** The item suffix parts of a block run uuid (`child:a:0` -> `['a', '0']`; `loader` -> `[]`). */
function suffixParts(blockRunUuid: string, base: string): string[] {
  return blockRunUuid === base ? [] : blockRunUuid.slice(base.length + 1).split(':');
}

const withSuffix = (uuid: string, parts: readonly string[]) => (parts.length ? `${uuid}:${parts.join(':')}` : uuid);

export interface SpawnInput {
  blocks: readonly DynamicPlanBlock[];
  /** The dynamic block whose run completed, and that run's uuid (`loader`, or `inner:0` for a nested one). */
  parentBlockUuid: string;
  parentRunUuid: string;
  /** How many items its output holds. */
  itemCount: number;
  /** Per-item metadata (output_1 of the dynamic block), when it returned some. */
  metadata?: ReadonlyArray<Record<string, unknown> | null | undefined>;
  /** Block run uuids the run already has: these are not created again (Mage's skip_if_exists). */
  existing: ReadonlySet<string>;
}

/**
 * The block runs a completed dynamic block run spawns (Mage's create_block_runs_from_dynamic_block): per item,
 * one run of each block in its fan-out; once, the blocks after a reduce_output block. Each carries Mage's metrics:
 * the item's metadata, `dynamic_block_index` (per-item runs) and `dynamic_upstream_block_uuids` (the block runs
 * it waits for and reads, in upstream_blocks order).
 */
export function spawnChildRuns(input: SpawnInput): ChildBlockRun[] {
  const byUuid = new Map(input.blocks.map((b) => [b.uuid, b]));
  const parent = input.parentBlockUuid;
  const scope = suffixParts(input.parentRunUuid, parent);
  const order = topologicalDescendants(parent, input.blocks);
  const perItem = new Set<string>();
  const gathered = new Set<string>();
  const excluded = new Set<string>();
  for (const uuid of order) {
    const block = byUuid.get(uuid)!;
    const ups = block.upstream.filter((u) => byUuid.has(u));
    // A block under another dynamic block (or under one that is spawned later) is created by that one's runs.
    if (ups.some((u) => excluded.has(u) || (u !== parent && byUuid.get(u)!.dynamic))) {
      excluded.add(uuid);
    } else if (ups.includes(parent) || ups.some((u) => perItem.has(u) && !byUuid.get(u)!.reduceOutput)) {
      perItem.add(uuid);
    } else if (ups.some((u) => gathered.has(u) || (perItem.has(u) && byUuid.get(u)!.reduceOutput))) {
      gathered.add(uuid);
    } else {
      excluded.add(uuid);
    }
  }
  // An upstream outside the fan-out: its run at this scope when there is one (a nested fan-out beside it), else its own.
  const outside = (u: string) => (scope.length && input.existing.has(withSuffix(u, scope)) ? withSuffix(u, scope) : u);

  const created: ChildBlockRun[] = [];
  const taken = new Set(input.existing);
  const add = (run: ChildBlockRun) => {
    if (taken.has(run.block_uuid)) return;
    taken.add(run.block_uuid);
    created.push(run);
  };
  const items = Array.from({ length: Math.max(0, input.itemCount) }, (_, index) => {
    const meta = input.metadata?.[index];
    const metadata = meta && typeof meta === 'object' && !Array.isArray(meta) ? { ...meta } : {};
    const sub = metadata.block_uuid !== undefined && metadata.block_uuid !== null ? String(metadata.block_uuid) : String(index);
    return { index, metadata, parts: [sub, ...scope] };
  });
  // Per item: each block of the fan-out, in DAG order, so a run's upstream runs are created before it.
  for (const item of items) {
    for (const uuid of order) {
      if (!perItem.has(uuid)) continue;
      const upstreamRuns = byUuid.get(uuid)!.upstream.filter((u) => byUuid.has(u)).map((u) => {
        if (u === parent) return input.parentRunUuid;
        if (perItem.has(u)) return withSuffix(u, item.parts);
        if (gathered.has(u)) return withSuffix(u, scope);
        return outside(u);
      });
      add({
        block_uuid: withSuffix(uuid, item.parts),
        metrics: { ...item.metadata, dynamic_block_index: item.index, dynamic_upstream_block_uuids: upstreamRuns },
      });
    }
  }
  // Once: the blocks after a reduce, reading every item's run of the reducing block.
  for (const uuid of order) {
    if (!gathered.has(uuid)) continue;
    const upstreamRuns = byUuid.get(uuid)!.upstream.filter((u) => byUuid.has(u)).flatMap((u) => {
      if (perItem.has(u)) return items.map((item) => withSuffix(u, item.parts));
      if (gathered.has(u)) return [withSuffix(u, scope)];
      return [outside(u)];
    });
    add({ block_uuid: withSuffix(uuid, scope), metrics: { dynamic_upstream_block_uuids: upstreamRuns } });
  }
  return created;
}

/** Every block downstream of `from`, upstream before downstream. */
function topologicalDescendants(from: string, blocks: readonly DynamicPlanBlock[]): string[] {
  const down = new Map<string, string[]>();
  for (const b of blocks) for (const u of b.upstream) down.set(u, [...(down.get(u) ?? []), b.uuid]);
  const reachable = new Set<string>();
  const stack = [...(down.get(from) ?? [])];
  while (stack.length) {
    const uuid = stack.pop()!;
    if (reachable.has(uuid) || uuid === from) continue;
    reachable.add(uuid);
    stack.push(...(down.get(uuid) ?? []));
  }
  const byUuid = new Map(blocks.map((b) => [b.uuid, b]));
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (uuid: string, path: Set<string>) => {
    if (done.has(uuid) || path.has(uuid)) return;
    path.add(uuid);
    for (const u of byUuid.get(uuid)?.upstream ?? []) if (reachable.has(u)) visit(u, path);
    path.delete(uuid);
    done.add(uuid);
    order.push(uuid);
  };
  for (const b of blocks) if (reachable.has(b.uuid)) visit(b.uuid, new Set());
  return order;
}

/** How one upstream block reaches a block run: a folder as is, one item of a dynamic block's list, or a gather. */
export type UpstreamSource =
  | { kind: 'outputs'; blockUuid: string; runUuid: string }
  | { kind: 'item'; blockUuid: string; runUuid: string; index: number }
  | { kind: 'gather'; blockUuid: string; runUuids: string[] };

/**
 * The inputs of a block run, one per upstream block in upstream_blocks order (Mage's fetch_input_variables):
 * a dynamic upstream gives the item at this run's `dynamic_block_index`; a reduce_output upstream gives the
 * outputs of all its runs this run waits for, gathered; any other gives its run's outputs. `upstreamRuns` is the
 * run's `dynamic_upstream_block_uuids`, or undefined for a run of a block with no dynamic ancestor.
 */
export function upstreamSources(
  block: { upstream: string[] },
  blocks: readonly DynamicPlanBlock[],
  upstreamRuns: readonly string[] | undefined,
  dynamicBlockIndex: number | undefined,
): UpstreamSource[] {
  const byUuid = new Map(blocks.map((b) => [b.uuid, b]));
  const uuids = new Set(byUuid.keys());
  return block.upstream.map((u): UpstreamSource => {
    // A block with no dynamic ancestor reads its upstream folders as they are, whatever their configuration.
    if (!upstreamRuns) return { kind: 'outputs', blockUuid: u, runUuid: u };
    const up = byUuid.get(u);
    const runs = upstreamRuns.filter((r) => baseBlockUuid(r, uuids) === u);
    if (up?.reduceOutput) return { kind: 'gather', blockUuid: u, runUuids: runs };
    const runUuid = runs[0] ?? u;
    if (up?.dynamic) return { kind: 'item', blockUuid: u, runUuid, index: dynamicBlockIndex ?? 0 };
    return { kind: 'outputs', blockUuid: u, runUuid };
  });
}
