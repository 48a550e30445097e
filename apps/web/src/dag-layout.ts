// Where the run page draws a config's tasks: columns left to right, each task after all its parents.
// Small graphs go through dagre (its crossing reduction draws them best); dagre's cost grows much faster
// than the graph (about 60 s in Chromium for 2,000 tasks), so bigger ones get a layered layout of our
// own: layer = longest path from a root, order by barycentres, positions by isotonic regression.
import dagre from '@dagrejs/dagre';

export interface DagTask<N> {
  id: string;
  dependsOn: { [parent: string]: N };
}

export interface Laid<N> {
  nodes: Array<{ id: string; x: number; y: number }>;
  /** `path` is an SVG path from the parent's right side to the child's left side. */
  edges: Array<{ from: string; to: string; need: N; path: string }>;
  width: number;
  height: number;
}

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  /** Vertical gap between two tasks in a column. */
  nodeSep: number;
  /** Horizontal gap between two columns. */
  rankSep: number;
  margin: number;
  /** dagre while tasks plus the edges' in-between layers (its cost) stay within this; ours beyond. */
  dagreUpTo: number;
}

export const LAYOUT: LayoutOptions = { nodeWidth: 190, nodeHeight: 58, nodeSep: 18, rankSep: 60, margin: 10, dagreUpTo: 150 };

/** A long edge's place where it crosses a column between its ends: thin, so edges pack closer than tasks. */
const EDGE_SEP = 8;
/** Ordering sweeps at most, and how many in a row may fail to reduce crossings before it stops. */
const MAX_SWEEPS = 12;
const PATIENCE = 3;

/** The DAG laid out left to right; parents missing from `tasks` are ignored. */
export function layoutDag<N>(tasks: ReadonlyArray<DagTask<N>>, options: LayoutOptions = LAYOUT): Laid<N> {
  if (tasks.length === 0) return { nodes: [], edges: [], width: 2 * options.margin, height: 2 * options.margin };
  const graph = new Structure(tasks);
  return graph.cost() <= options.dagreUpTo ? withDagre(tasks, graph, options) : layered(tasks, graph, options);
}

/** The tasks' indices, parents, children and layers (longest path from a root). */
class Structure {
  readonly index = new Map<string, number>();
  readonly parents: number[][];
  readonly children: number[][];
  readonly layer: number[];
  readonly layers: number;

  constructor(tasks: ReadonlyArray<DagTask<unknown>>) {
    tasks.forEach((task, i) => this.index.set(task.id, i));
    this.parents = tasks.map((task) => Object.keys(task.dependsOn).map((p) => this.index.get(p)).filter((p): p is number => p !== undefined && p !== this.index.get(task.id)));
    this.children = tasks.map(() => []);
    this.parents.forEach((parents, child) => parents.forEach((p) => this.children[p]!.push(child)));
    // Kahn's order; a cycle (configs are validated acyclic) only leaves its tasks after the rest.
    this.layer = tasks.map(() => -1);
    const waiting = this.parents.map((p) => p.length);
    const queue = waiting.flatMap((n, i) => (n === 0 ? [i] : []));
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head]!;
      this.layer[v] = Math.max(0, ...this.parents[v]!.map((p) => this.layer[p]! + 1));
      for (const c of this.children[v]!) if (--waiting[c]! === 0) queue.push(c);
    }
    for (let v = 0; v < tasks.length; v++) {
      if (this.layer[v]! < 0) this.layer[v] = Math.max(0, ...this.parents[v]!.map((p) => this.layer[p]! + 1));
    }
    this.layers = this.layer.reduce((a, l) => Math.max(a, l + 1), 0);
  }

  /** Tasks plus the layers each edge crosses between its ends: what a layered layout orders. */
  cost(): number {
    let cost = this.layer.length;
    this.parents.forEach((parents, child) => parents.forEach((p) => (cost += Math.max(0, this.layer[child]! - this.layer[p]! - 1))));
    return cost;
  }
}

function withDagre<N>(tasks: ReadonlyArray<DagTask<N>>, structure: Structure, o: LayoutOptions): Laid<N> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: o.nodeSep, ranksep: o.rankSep, marginx: o.margin, marginy: o.margin });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const task of tasks) graph.setNode(task.id, { width: o.nodeWidth, height: o.nodeHeight });
  for (const task of tasks) for (const parent of Object.keys(task.dependsOn)) if (structure.index.has(parent) && parent !== task.id) graph.setEdge(parent, task.id);
  dagre.layout(graph);
  const { width = 0, height = 0 } = graph.graph();
  return {
    nodes: tasks.map((task) => ({ id: task.id, x: graph.node(task.id).x, y: graph.node(task.id).y })),
    edges: tasks.flatMap((task) =>
      Object.entries(task.dependsOn).filter(([parent]) => graph.hasEdge(parent, task.id)).map(([parent, need]) => ({
        from: parent, to: task.id, need,
        path: ((graph.edge(parent, task.id).points ?? []) as Array<{ x: number; y: number }>).map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' '),
      })),
    ),
    width,
    height,
  };
}

/**
 * Sugiyama's scheme, kept linear-ish: every edge longer than one layer gets a thin stand-in in each
 * layer it crosses; orders from barycentre sweeps (the one with the fewest crossings is kept); in each
 * layer, the y closest (least squares) to the mean of the neighbours' ys with no two items overlapping.
 */
function layered<N>(tasks: ReadonlyArray<DagTask<N>>, s: Structure, o: LayoutOptions): Laid<N> {
  const n = tasks.length;
  // Items 0..n-1 are the tasks, the rest stand-ins for long edges; up/down link items of adjacent layers.
  const layerOf = [...s.layer];
  const up: number[][] = tasks.map(() => []);
  const down: number[][] = tasks.map(() => []);
  const chains: Array<{ from: number; to: number; items: number[] }> = [];
  s.parents.forEach((parents, child) => {
    for (const parent of parents) {
      const items: number[] = [];
      if (layerOf[child]! > layerOf[parent]!) {
        let previous = parent;
        for (let l = layerOf[parent]! + 1; l < layerOf[child]!; l++) {
          const item = layerOf.length;
          layerOf.push(l);
          up.push([previous]);
          down.push([]);
          down[previous]!.push(item);
          items.push(item);
          previous = item;
        }
        up[child]!.push(previous);
        down[previous]!.push(child);
      }
      chains.push({ from: parent, to: child, items });
    }
  });

  const layers: number[][] = Array.from({ length: s.layers }, () => []);
  for (let v = 0; v < layerOf.length; v++) layers[layerOf[v]!]!.push(v); // tasks in config order first
  const pos = new Float64Array(layerOf.length);
  const number = (layer: number[]) => layer.forEach((v, i) => (pos[v] = i));
  layers.forEach(number);

  // Ordering: sort each layer by its neighbours' mean position in the layer just ordered.
  const key = new Float64Array(layerOf.length);
  const sweep = (downward: boolean) => {
    const range = downward ? layers.keys() : [...layers.keys()].reverse();
    for (const l of range) {
      const layer = layers[l]!;
      for (const v of layer) {
        const near = downward ? up[v]! : down[v]!;
        // Normalised positions, so a task without neighbours there keeps its relative place.
        key[v] = near.length === 0 ? (pos[v]! + 0.5) / layer.length : near.reduce((a, u) => a + pos[u]! + 0.5, 0) / near.length / layers[layerOf[near[0]!]!]!.length;
      }
      layer.sort((a, b) => key[a]! - key[b]!);
      number(layer);
    }
  };
  const scratch = { ends: new Int32Array(layerOf.length + chains.length), tree: new Int32Array(4 * layers.reduce((a, layer) => Math.max(a, layer.length), 1)) };
  let best = layers.map((layer) => [...layer]);
  let fewest = crossings(layers, down, pos, scratch);
  for (let i = 0, stale = 0; i < MAX_SWEEPS && stale < PATIENCE && fewest > 0; i++) {
    sweep(i % 2 === 0);
    const count = crossings(layers, down, pos, scratch);
    if (count < fewest) {
      fewest = count;
      best = layers.map((layer) => [...layer]);
      stale = 0;
    } else stale++;
  }
  best.forEach((layer, l) => (layers[l] = layer));
  layers.forEach(number);

  // Coordinates: each layer placed as near its neighbours' mean as the gaps allow, a few passes.
  const height = (v: number) => (v < n ? o.nodeHeight : 0);
  const gap = (a: number, b: number) => (height(a) + height(b)) / 2 + (a < n && b < n ? o.nodeSep : EDGE_SEP);
  const y = new Float64Array(layerOf.length);
  const widest = layers.reduce((a, layer) => Math.max(a, layer.length), 1);
  const fit = { target: new Float64Array(widest), offset: new Float64Array(widest), sum: new Float64Array(widest), count: new Int32Array(widest) };
  const place = (layer: number[], parents: boolean, children: boolean) => {
    for (let i = 0; i < layer.length; i++) {
      const v = layer[i]!;
      let sum = 0;
      let count = 0;
      if (parents) for (const u of up[v]!) (sum += y[u]!), count++;
      if (children) for (const u of down[v]!) (sum += y[u]!), count++;
      fit.target[i] = count === 0 ? y[v]! : sum / count;
      fit.offset[i] = i === 0 ? 0 : fit.offset[i - 1]! + gap(layer[i - 1]!, v);
    }
    isotonic(layer, y, fit);
  };
  for (const layer of layers) {
    for (let i = 0; i < layer.length; i++) y[layer[i]!] = i === 0 ? 0 : y[layer[i - 1]!]! + gap(layer[i - 1]!, layer[i]!);
  }
  for (let l = 1; l < layers.length; l++) place(layers[l]!, true, false);
  for (let l = layers.length - 2; l >= 0; l--) place(layers[l]!, false, true);
  for (let pass = 0; pass < 2; pass++) for (const layer of layers) place(layer, true, true);

  let top = Infinity;
  let bottom = -Infinity;
  for (let v = 0; v < layerOf.length; v++) {
    top = Math.min(top, y[v]! - height(v) / 2);
    bottom = Math.max(bottom, y[v]! + height(v) / 2);
  }
  const yOf = (v: number) => round(y[v]! - top + o.margin);
  const xOf = (v: number) => o.margin + layerOf[v]! * (o.nodeWidth + o.rankSep) + o.nodeWidth / 2;
  const half = o.nodeWidth / 2;
  const nodes = tasks.map((task, v) => ({ id: task.id, x: xOf(v), y: yOf(v) }));
  const edges = chains.map(({ from, to, items }) => {
    let x0 = xOf(from) + half;
    let y0 = yOf(from);
    let path = `M ${x0} ${y0}`;
    for (const v of [...items, to]) {
      // A curve across the gap between columns, level at both ends; a stand-in's column crossed straight.
      const [x1, y1] = [xOf(v) - half, yOf(v)];
      const bend = x1 > x0 ? (x1 - x0) / 2 : o.rankSep / 2;
      path += ` C ${x0 + bend} ${y0} ${x1 - bend} ${y1} ${x1} ${y1}`;
      if (v !== to) path += ` L ${xOf(v) + half} ${y1}`;
      [x0, y0] = [xOf(v) + half, y1];
    }
    return { from: tasks[from]!.id, to: tasks[to]!.id, need: tasks[to]!.dependsOn[tasks[from]!.id]!, path };
  });
  return {
    nodes,
    edges,
    width: 2 * o.margin + s.layers * o.nodeWidth + (s.layers - 1) * o.rankSep,
    height: round(bottom - top + 2 * o.margin),
  };
}

/** Edge crossings between every pair of adjacent layers (Barth, Jünger and Mutzel's accumulator tree). */
function crossings(layers: number[][], down: number[][], pos: Float64Array, scratch: { ends: Int32Array; tree: Int32Array }): number {
  const { ends, tree } = scratch;
  let total = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    // The lower ends in order of the upper ends (layer l is in position order), each group sorted.
    let k = 0;
    for (const v of layers[l]!) {
      const start = k;
      for (const c of down[v]!) {
        const p = pos[c]!;
        let j = k++;
        for (; j > start && ends[j - 1]! > p; j--) ends[j] = ends[j - 1]!;
        ends[j] = p;
      }
    }
    let size = 1;
    while (size < layers[l + 1]!.length) size *= 2;
    tree.fill(0, 0, 2 * size);
    for (let e = 0; e < k; e++) {
      let i = ends[e]! + size;
      tree[i]!++;
      while (i > 1) {
        if (i % 2 === 0) total += tree[i + 1]!;
        i >>= 1;
        tree[i]!++;
      }
    }
  }
  return total;
}

/**
 * Sets the layer's ys nearest (least squares) to `target` that keep each item `offset` apart: with
 * z = y − offset the constraint is z non-decreasing, solved by pooling adjacent violators.
 */
function isotonic(layer: number[], y: Float64Array, { target, offset, sum, count }: { target: Float64Array; offset: Float64Array; sum: Float64Array; count: Int32Array }): void {
  let blocks = 0;
  for (let i = 0; i < layer.length; i++) {
    sum[blocks] = target[i]! - offset[i]!;
    count[blocks] = 1;
    blocks++;
    while (blocks > 1 && sum[blocks - 2]! / count[blocks - 2]! > sum[blocks - 1]! / count[blocks - 1]!) {
      sum[blocks - 2]! += sum[blocks - 1]!;
      count[blocks - 2]! += count[blocks - 1]!;
      blocks--;
    }
  }
  for (let b = 0, i = 0; b < blocks; b++) {
    const z = sum[b]! / count[b]!;
    for (let k = 0; k < count[b]!; k++, i++) y[layer[i]!] = z + offset[i]!;
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
