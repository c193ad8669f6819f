/** The positional inputs of a SQL block: upstream outputs on disk, or inline values. */
import type { BlockRunRequest } from '../types.js';
import { findUpstreamOutput, type UpstreamData } from './upstream.js';

export interface BlockInput {
  /** 1-based position: the input is `df_<position>` in templates. */
  position: number;
  /** The upstream block's uuid, when known (inline inputs beyond the upstream list have none). */
  blockUuid?: string;
  /** null when the upstream has no stored output_0. */
  data: UpstreamData | null;
}

/** Collects the inputs: `inlineInputs` when set (JSON values), else each upstream's stored output_0. */
export async function collectInputs(request: BlockRunRequest): Promise<BlockInput[]> {
  if (request.inlineInputs) {
    return request.inlineInputs.map((value, i) => ({
      position: i + 1,
      blockUuid: request.upstream[i]?.blockUuid,
      data: { kind: 'json', value },
    }));
  }
  const out: BlockInput[] = [];
  for (const [i, up] of request.upstream.entries()) {
    out.push({ position: i + 1, blockUuid: up.blockUuid, data: await findUpstreamOutput(up.variablesDir) });
  }
  return out;
}

/** The reason shown when a template refers to an input without stored output. */
export function missingInputReason(input: BlockInput): string {
  return `upstream block '${input.blockUuid ?? `#${input.position}`}' has no stored output (output_0); run it first`;
}
