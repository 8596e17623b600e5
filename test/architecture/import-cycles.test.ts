/**
 * Folders under src/ stay acyclic (docs/architecture.md), and so do files. Every import counts:
 * static, type-only, re-exports and dynamic import(), since each one ties the two modules
 * together for a reader even when it vanishes at runtime.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative specifiers of every import, export-from and import() in a file, resolved to .ts paths under src/. */
function importsOf(file: string, known: Set<string>): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((ref) => ref.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
    .flatMap((target) => (known.has(target) ? [target] : known.has(join(target, 'index.ts')) ? [join(target, 'index.ts')] : []));
}

type Graph = Map<string, Set<string>>;

/** One cycle per strongly connected component with more than one node (or a self-loop), as a path. */
function findCycles(graph: Graph): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

function addEdge(graph: Graph, from: string, to: string): void {
  if (!graph.has(from)) graph.set(from, new Set());
  graph.get(from)!.add(to);
}

const files = sourceFiles(SRC);
const known = new Set(files);
const fileGraph: Graph = new Map();
const folderGraph: Graph = new Map();
const folderOf = (file: string): string => relative(SRC, file).split(sep)[0]!.replace(/\.ts$/, '');
for (const file of files) {
  fileGraph.set(file, new Set());
  for (const target of importsOf(file, known)) {
    addEdge(fileGraph, file, target);
    if (folderOf(file) !== folderOf(target)) addEdge(folderGraph, folderOf(file), folderOf(target));
  }
}
const show = (cycle: string[]): string => cycle.map((node) => relative(SRC, node) || node).join(' -> ');

describe('import graph of src/', () => {
  it('sees the source tree (guards against an empty graph passing)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(folderGraph.get('proxy')?.size ?? 0).toBeGreaterThan(0);
  });

  it('has no cycle between folders', () => {
    expect(findCycles(folderGraph).map(show)).toEqual([]);
  });

  it('has no cycle between files', () => {
    expect(findCycles(fileGraph).map(show)).toEqual([]);
  });

  it('detects a cycle when there is one', () => {
    const graph: Graph = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set()]]);
    expect(findCycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
  });
});
