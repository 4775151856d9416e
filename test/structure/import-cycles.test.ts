import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// Reads the TypeScript sources (not dist/), so type-only imports, which tsc erases, count too:
// a cycle of types between folders is as much a tangle as one of values.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const srcRoot = join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The top folder of src/ a file belongs to ('.' for files directly in src/). */
function folderOf(file: string): string {
  const parts = relative(srcRoot, file).split(sep);
  return parts.length > 1 ? parts[0]! : '.';
}

interface FolderEdge {
  from: string;
  to: string;
  /** One file-level import that makes the edge, to name in a failure. */
  example: string;
}

/** Every import between two different folders of src/, with one example import per folder pair. */
function folderEdges(files: readonly string[]): FolderEdge[] {
  const edges = new Map<string, FolderEdge>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName);
      if (!target.startsWith(srcRoot + sep)) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      const key = `${from}->${to}`;
      if (from !== to && !edges.has(key)) {
        edges.set(key, { from, to, example: `${relative(srcRoot, file)} imports ${fileName}` });
      }
    }
  }
  return [...edges.values()];
}

/** The strongly connected components with more than one folder (Tarjan): each one is a cycle. */
function folderCycles(edges: readonly FolderEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of next.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

describe('imports between the folders of src/', () => {
  const files = sourceFiles(srcRoot);

  it('reads the sources it checks', () => {
    // A wrong root would find no files and pass vacuously.
    assert.ok(files.length > 50, `found only ${files.length} source files under ${srcRoot}`);
    assert.ok(folderEdges(files).some((edge) => edge.from === 'server' && edge.to === 'registry'));
  });

  it('form no cycle', () => {
    const edges = folderEdges(files);
    const problems = folderCycles(edges).map((cycle) => {
      const inside = edges.filter((edge) => cycle.includes(edge.from) && cycle.includes(edge.to));
      return `${cycle.join(' <-> ')}: ${inside.map((edge) => edge.example).join('; ')}`;
    });
    assert.deepEqual(problems, []);
  });

  it('finds a cycle when there is one', () => {
    const edges: FolderEdge[] = [
      { from: 'a', to: 'b', example: 'a/x.ts' },
      { from: 'b', to: 'c', example: 'b/y.ts' },
      { from: 'c', to: 'a', example: 'c/z.ts' },
      { from: 'c', to: 'd', example: 'c/w.ts' },
    ];
    assert.deepEqual(folderCycles(edges), [['a', 'b', 'c']]);
  });
});
