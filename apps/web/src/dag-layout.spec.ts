import { describe, expect, it } from 'vitest';
import { LAYOUT, layoutDag, type DagTask, type Laid } from './dag-layout.js';

type Need = 'success' | 'failure' | 'any';
const OURS = { ...LAYOUT, dagreUpTo: 0 };

/** The bench's shape (bench/web-ui.bench.mjs): `layers` × `width`, each on its column's task before, half on a second. */
function layered(layers: number, width: number): Array<DagTask<Need>> {
  const name = (l: number, i: number) => `l${l}-t${i}`;
  const tasks: Array<DagTask<Need>> = [];
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < width; i++) {
      const dependsOn: Record<string, Need> = {};
      if (l > 0) {
        dependsOn[name(l - 1, i)] = 'success';
        const other = (i * 7 + l) % width;
        if (i % 2 === 0 && other !== i) dependsOn[name(l - 1, other)] = 'any';
      }
      tasks.push({ id: name(l, i), dependsOn });
    }
  }
  return tasks;
}

/** Edges that skip layers: every task also on a root and on a task three layers back. */
function skipping(): Array<DagTask<Need>> {
  return layered(8, 6).map((task) => {
    const [l, i] = task.id.slice(1).split('-t').map(Number) as [number, number];
    return l < 3 ? task : { ...task, dependsOn: { ...task.dependsOn, 'l0-t0': 'failure', [`l${l - 3}-t${(i + 1) % 6}`]: 'success' } };
  });
}

/** Longest path from a root, from the config alone. */
function depths(tasks: Array<DagTask<Need>>): Map<string, number> {
  const depth = new Map<string, number>();
  const of = (id: string): number => {
    if (!depth.has(id)) depth.set(id, Math.max(0, ...Object.keys(tasks.find((t) => t.id === id)!.dependsOn).map((p) => of(p) + 1)));
    return depth.get(id)!;
  };
  tasks.forEach((t) => of(t.id));
  return depth;
}

/** Whether a point is on a node's outline (dagre ends edges where they meet it). */
function onBorder(p: { x: number; y: number }, node: { x: number; y: number }): boolean {
  const [dx, dy] = [Math.abs(p.x - node.x), Math.abs(p.y - node.y)];
  const [w, h] = [LAYOUT.nodeWidth / 2, LAYOUT.nodeHeight / 2];
  return dx <= w + 0.5 && dy <= h + 0.5 && (Math.abs(dx - w) < 0.5 || Math.abs(dy - h) < 0.5);
}

/** What every layout must give: a column per depth, no overlaps, every edge from its parent's right side to its child's left, left to right. */
function expectDrawable(tasks: Array<DagTask<Need>>, laid: Laid<Need>, minGap: number, exactEnds = true) {
  const at = new Map(laid.nodes.map((n) => [n.id, n]));
  expect(laid.nodes.map((n) => n.id)).toEqual(tasks.map((t) => t.id));
  const columns = [...new Set(laid.nodes.map((n) => n.x))].sort((a, b) => a - b);
  const depth = depths(tasks);
  for (const node of laid.nodes) expect(columns.indexOf(node.x)).toBe(depth.get(node.id));
  for (const x of columns) {
    const ys = laid.nodes.filter((n) => n.x === x).map((n) => n.y).sort((a, b) => a - b);
    for (let i = 1; i < ys.length; i++) expect(ys[i]! - ys[i - 1]!).toBeGreaterThanOrEqual(LAYOUT.nodeHeight + minGap - 0.2); // ys are rounded to 0.1
  }
  for (const node of laid.nodes) {
    expect(node.x - LAYOUT.nodeWidth / 2).toBeGreaterThanOrEqual(0);
    expect(node.y - LAYOUT.nodeHeight / 2).toBeGreaterThanOrEqual(0);
    expect(node.x + LAYOUT.nodeWidth / 2).toBeLessThanOrEqual(laid.width);
    expect(node.y + LAYOUT.nodeHeight / 2).toBeLessThanOrEqual(laid.height);
  }
  const expected = tasks.flatMap((t) => Object.entries(t.dependsOn).map(([from, need]) => `${from}->${t.id} ${need}`)).sort();
  expect(laid.edges.map((e) => `${e.from}->${e.to} ${e.need}`).sort()).toEqual(expected);
  for (const edge of laid.edges) {
    const [from, to] = [at.get(edge.from)!, at.get(edge.to)!];
    expect(from.x).toBeLessThan(to.x);
    const points = [...edge.path.matchAll(/(-?[\d.]+) (-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
    if (exactEnds) {
      expect(points[0]!.x).toBeCloseTo(from.x + LAYOUT.nodeWidth / 2, 0);
      expect(points[0]!.y).toBeCloseTo(from.y, 0);
      expect(points.at(-1)!.x).toBeCloseTo(to.x - LAYOUT.nodeWidth / 2, 0);
      expect(points.at(-1)!.y).toBeCloseTo(to.y, 0);
    } else {
      expect(onBorder(points[0]!, from)).toBe(true);
      expect(onBorder(points.at(-1)!, to)).toBe(true);
    }
  }
}

describe('layoutDag', () => {
  it('lays a small graph out with dagre and a big one with its own layers, both drawable', () => {
    const small = layered(4, 5);
    const big = layered(40, 50);
    const drawnSmall = layoutDag(small);
    const drawnBig = layoutDag(big);
    expect(drawnSmall.edges.every((e) => e.path.startsWith('M') && !e.path.includes('C'))).toBe(true); // dagre's polylines
    expect(drawnBig.edges.every((e) => e.path.includes(' C '))).toBe(true); // our curves
    expectDrawable(small, drawnSmall, 1, false);
    expectDrawable(big, drawnBig, LAYOUT.nodeSep);
    expect(drawnBig.width).toBe(2 * LAYOUT.margin + 40 * LAYOUT.nodeWidth + 39 * LAYOUT.rankSep);
  });

  it('routes an edge that skips layers between the tasks of the columns it crosses, never through one', () => {
    const tasks = skipping();
    const laid = layoutDag(tasks, OURS);
    expectDrawable(tasks, laid, 16); // two tasks with an edge between them: 8 px either side of it
    const crossed = laid.edges.filter((e) => e.path.includes(' L '));
    expect(crossed.length).toBeGreaterThan(20);
    for (const edge of crossed) {
      // Each ` L x y` runs straight across a column at height y, from its left side to its right.
      for (const [, x, y] of edge.path.matchAll(/ L (-?[\d.]+) (-?[\d.]+)/g)) {
        const column = laid.nodes.filter((n) => Math.abs(n.x + LAYOUT.nodeWidth / 2 - Number(x)) < 0.01);
        expect(column.length).toBeGreaterThan(0);
        for (const node of column) expect(Math.abs(node.y - Number(y))).toBeGreaterThanOrEqual(LAYOUT.nodeHeight / 2);
      }
    }
  });

  it('orders a column by its parents, so edges that need not cross do not', () => {
    // In config order b1 is above b2 but its parent a2 is below a1: drawn in that order, the two edges would cross.
    const tasks: Array<DagTask<Need>> = [
      { id: 'a1', dependsOn: {} },
      { id: 'a2', dependsOn: {} },
      { id: 'b1', dependsOn: { a2: 'success' } },
      { id: 'b2', dependsOn: { a1: 'success' } },
      { id: 'c1', dependsOn: { b2: 'success' } },
      { id: 'c2', dependsOn: { b1: 'success' } },
    ];
    const laid = layoutDag(tasks, OURS);
    expectDrawable(tasks, laid, LAYOUT.nodeSep);
    const y = Object.fromEntries(laid.nodes.map((n) => [n.id, n.y]));
    expect(y.a1! < y.a2!).toBe(y.b2! < y.b1!);
    expect(y.b2! < y.b1!).toBe(y.c1! < y.c2!);
    // A chain is drawn straight: a child with one parent sits level with it when nothing is in the way.
    expect(y.b2).toBe(y.a1);
    expect(y.c2).toBe(y.b1);
  });

  it('ignores parents outside the config and still ends on a cycle', () => {
    const tasks: Array<DagTask<Need>> = [
      { id: 'a', dependsOn: { gone: 'success' } },
      { id: 'b', dependsOn: { a: 'success', c: 'success' } },
      { id: 'c', dependsOn: { b: 'success' } },
    ];
    const laid = layoutDag(tasks, OURS);
    expect(laid.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    expect(laid.edges.some((e) => e.from === 'gone')).toBe(false);
    expect(laid.nodes.find((n) => n.id === 'a')!.x).toBeLessThan(laid.nodes.find((n) => n.id === 'b')!.x);
    expect(layoutDag([], OURS)).toEqual({ nodes: [], edges: [], width: 2 * LAYOUT.margin, height: 2 * LAYOUT.margin });
  });
});
