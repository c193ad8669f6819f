/**
 * The dependency graph beside the cells (@xyflow/react, laid out by ELK in a worker): drag from a block's
 * bottom handle onto another block to make it upstream, select an edge and press Delete (or its ✕) to remove
 * it, click a block to scroll to its cell.
 */
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  BaseEdge,
  EdgeLabelRenderer,
  Handle,
  Position,
  ReactFlow,
  ReactFlowProvider,
  Background,
  Controls,
  applyNodeChanges,
  getBezierPath,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeChange,
  type NodeProps,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { Block } from '../api';
import { typeColor } from '../components';
import { layoutDag } from './layout';

const NODE_W = 190;
const NODE_H = 46;

export type NodeStatus = 'executed' | 'not_executed' | 'failed' | 'updated' | 'running' | 'queued' | 'cancelled' | string;

type BlockNodeData = { uuid: string; type: string; language: string; color: string; status: NodeStatus; active: boolean };
type BlockNode = Node<BlockNodeData, 'block'>;

const STATUS_ICON: Record<string, string> = { executed: '✓', completed: '✓', failed: '✗', running: '◌', queued: '…', cancelled: '■', updated: '•' };

const BlockNodeView = memo(function BlockNodeView({ data, selected }: NodeProps<BlockNode>) {
  return (
    <div className={`dag-node ${selected || data.active ? 'selected' : ''} status-${data.status}`} style={{ borderLeftColor: data.color }} data-testid={`dag-node-${data.uuid}`} title={`${data.uuid} (${data.type}, ${data.language})`}>
      <Handle type="target" position={Position.Top} className="dag-handle" />
      <div className="dag-node-title">{data.uuid}</div>
      <div className="dag-node-sub">
        <span>{data.type.replace('data_', '')}</span>
        <span className={`dag-status ${data.status}`}>{STATUS_ICON[data.status] ?? ''}</span>
      </div>
      <Handle type="source" position={Position.Bottom} className="dag-handle" />
    </div>
  );
});

function RemovableEdge(props: EdgeProps & { data?: { onRemove?: (id: string) => void } }) {
  const [path, labelX, labelY] = getBezierPath(props);
  return (
    <>
      <BaseEdge id={props.id} path={path} markerEnd={props.markerEnd} style={props.style} interactionWidth={18} />
      {props.selected && (
        <EdgeLabelRenderer>
          <button
            className="edge-remove nodrag nopan"
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            onClick={() => props.data?.onRemove?.(props.id)}
            title="Remove this dependency"
            aria-label={`Remove dependency ${props.source} → ${props.target}`}
          >
            ✕
          </button>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

const nodeTypes = { block: BlockNodeView };
const edgeTypes = { removable: RemovableEdge };

export interface DagProps {
  blocks: Block[];
  statuses: Record<string, NodeStatus>;
  activeBlock: string | null;
  onSelect(uuid: string): void;
  onConnect(upstream: string, downstream: string): void;
  onDisconnect(upstream: string, downstream: string): void;
}

const edgeId = (source: string, target: string) => `${source}\u2192${target}`;

function DagInner(props: DagProps) {
  const { blocks, statuses, activeBlock } = props;
  const flow = useReactFlow();
  const [positions, setPositions] = useState<Map<string, { x: number; y: number }>>(new Map());
  const structure = useMemo(() => JSON.stringify(blocks.map((b) => [b.uuid, b.upstream_blocks])), [blocks]);
  const laidOut = useRef('');
  const propsRef = useRef(props);
  propsRef.current = props;

  useEffect(() => {
    let cancelled = false;
    const list = JSON.parse(structure) as [string, string[]][];
    const ids = new Set(list.map(([u]) => u));
    layoutDag({
      nodes: list.map(([id]) => ({ id, width: NODE_W, height: NODE_H })),
      edges: list.flatMap(([id, ups]) => ups.filter((u) => ids.has(u)).map((u) => ({ id: edgeId(u, id), source: u, target: id }))),
    })
      .then((pos) => {
        if (cancelled) return;
        setPositions(pos);
        const first = laidOut.current === '';
        laidOut.current = structure;
        // Centre on the first layout, and when blocks come or go (not on every edge change).
        if (first || list.length !== positions.size) requestAnimationFrame(() => void flow.fitView({ padding: 0.2, maxZoom: 1.1, duration: first ? 0 : 200 }));
      })
      .catch((err: Error) => console.warn('DAG layout failed', err));
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [structure]);

  // Nodes live in state and take React Flow's own changes (applyNodeChanges): it keeps each node's measured
  // size and handle positions there; nodes rebuilt from scratch on every update lose them and the edges vanish.
  const [nodes, setNodes] = useState<BlockNode[]>([]);
  useEffect(() => {
    setNodes((previous) => {
      const old = new Map(previous.map((n) => [n.id, n]));
      return blocks.map((b, i) => {
        const data: BlockNodeData = { uuid: b.uuid, type: b.type, language: b.language, color: typeColor(b.type, b.color), status: statuses[b.uuid] ?? b.status, active: b.uuid === activeBlock };
        const was = old.get(b.uuid);
        const position = positions.get(b.uuid) ?? was?.position ?? { x: 0, y: i * (NODE_H + 30) };
        return was ? { ...was, data, position } : { id: b.uuid, type: 'block' as const, position, data, deletable: false };
      });
    });
  }, [blocks, positions, statuses, activeBlock]);
  const onNodesChange = useCallback((changes: NodeChange<BlockNode>[]) => setNodes((ns) => applyNodeChanges(changes, ns)), []);
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const onRemove = useCallback((id: string) => {
    const [source, target] = id.split('\u2192');
    propsRef.current.onDisconnect(source, target);
    setSelectedEdge(null);
  }, []);
  const edges: Edge[] = useMemo(() => {
    const ids = new Set(blocks.map((b) => b.uuid));
    return blocks.flatMap((b) =>
      b.upstream_blocks
        .filter((u) => ids.has(u))
        .map((u) => {
          const id = edgeId(u, b.uuid);
          return { id, source: u, target: b.uuid, type: 'removable', selected: id === selectedEdge, data: { onRemove }, markerEnd: { type: 'arrowclosed' as const, color: '#7d869c' }, style: { stroke: '#7d869c', strokeWidth: 1.6 } };
        }),
    );
  }, [blocks, selectedEdge, onRemove]);

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      onNodesChange={onNodesChange}
      nodeTypes={nodeTypes}
      edgeTypes={edgeTypes}
      nodesDraggable={false}
      nodesConnectable
      elementsSelectable
      connectionRadius={60}
      panActivationKeyCode={null}
      deleteKeyCode={['Delete', 'Backspace']}
      minZoom={0.2}
      maxZoom={1.6}
      onNodeClick={(_e, node) => props.onSelect(node.id)}
      onEdgeClick={(_e, edge) => setSelectedEdge(edge.id)}
      onPaneClick={() => setSelectedEdge(null)}
      onEdgesDelete={(deleted) => deleted.forEach((e) => props.onDisconnect(e.source, e.target))}
      onConnect={(c: Connection) => {
        if (c.source && c.target && c.source !== c.target) props.onConnect(c.source, c.target);
      }}
      isValidConnection={(c) => c.source !== c.target}
      fitView
    >
      <Background gap={18} color="#2a3040" />
      <Controls showInteractive={false} position="bottom-right" />
    </ReactFlow>
  );
}

export function Dag(props: DagProps) {
  return (
    <div className="dag" data-testid="dag">
      <ReactFlowProvider>
        <DagInner {...props} />
      </ReactFlowProvider>
    </div>
  );
}
