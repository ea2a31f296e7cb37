/**
 * No import cycles in src/: a module graph that is a DAG can be read bottom-up, and
 * load order never depends on which module happened to be imported first. Every
 * relative import and re-export counts, `import type` and `export type` included (a
 * type-only circle is still two modules that cannot be understood apart), and so do
 * dynamic `import('./x.js')` calls.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;

/** Relative specifiers of every static import/export `from '...'` and dynamic `import('...')`. */
const SPECIFIER =
  /(?:^|[\s;}])(?:import|export)\s[^'"`;]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|[\s;}])import\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The relative modules `text` (the source of `file`) imports, as .ts paths. */
function importsOf(file: string, text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    found.add(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
  }
  return [...found];
}

/** One cycle per back edge a depth-first search meets, each a list of modules (first = last): enough to fail, and fixing them reveals any others. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const VISITING = 1;
  const DONE = 2;
  const state = new Map<string, number>();
  const path: string[] = [];
  const cycles: string[][] = [];
  // Iterative, so a deep graph cannot overflow the stack; bounded by nodes + edges.
  for (const root of graph.keys()) {
    if (state.has(root)) {
      continue;
    }
    const stack: { node: string; next: number }[] = [{ node: root, next: 0 }];
    state.set(root, VISITING);
    path.push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edges = graph.get(top.node) ?? [];
      if (top.next >= edges.length) {
        state.set(top.node, DONE);
        path.pop();
        stack.pop();
        continue;
      }
      const target = edges[top.next++]!;
      const seen = state.get(target);
      if (seen === VISITING) {
        cycles.push([...path.slice(path.indexOf(target)), target]);
      } else if (seen === undefined && graph.has(target)) {
        state.set(target, VISITING);
        path.push(target);
        stack.push({ node: target, next: 0 });
      }
    }
  }
  return cycles;
}

/**
 * Cycles known and accepted for now, each with its reason. Only an edge made by a
 * dynamic `import()` may be excused (it runs after both modules loaded, so it cannot
 * break load order); each entry must still exist, so a fixed one is removed here.
 */
const KNOWN_CYCLES: Record<string, string> = {};

describe('import graph of src/', () => {
  it('has no cycles (type-only imports included)', () => {
    const files = sources(SRC);
    const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(file, 'utf8'))]));
    // Sanity: the scan sees the graph (an empty graph would pass vacuously).
    expect([...graph.values()].flat().length).toBeGreaterThan(files.length);
    for (const targets of graph.values()) {
      for (const target of targets) {
        expect(graph.has(target), `import of a missing module ${relative(SRC, target)}`).toBe(true);
      }
    }
    const cycles = findCycles(graph).map((cycle) =>
      cycle.map((file) => relative(SRC, file)).join(' -> '),
    );
    expect(cycles.filter((cycle) => KNOWN_CYCLES[cycle] === undefined)).toEqual([]);
    for (const known of Object.keys(KNOWN_CYCLES)) {
      expect(cycles, `known cycle ${known} is gone: remove it from KNOWN_CYCLES`).toContain(known);
    }
  });

  it('sees type-only, re-export, side-effect and dynamic imports (so the test can fail)', () => {
    const file = '/x/src/a.ts';
    const text = [
      "import type { T } from './b.js';",
      "export type { U } from '../c.js';",
      "export * from './d.js';",
      "import './e.js';",
      "const m = await import('./f.js');",
      "import { readFileSync } from 'node:fs';",
      "const s = 'not an import from \\'./g.js\\'';",
    ].join('\n');
    expect(importsOf(file, text)).toEqual([
      '/x/src/b.ts',
      '/x/c.ts',
      '/x/src/d.ts',
      '/x/src/e.ts',
      '/x/src/f.ts',
    ]);
  });

  it('reports a type-only circle of three modules', () => {
    const graph = new Map([
      ['threads', ['thread-worker', 'errors']],
      ['thread-worker', ['handlers']],
      ['handlers', ['threads']],
      ['errors', []],
    ]);
    expect(findCycles(graph)).toEqual([['threads', 'thread-worker', 'handlers', 'threads']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toEqual([]);
  });
});
