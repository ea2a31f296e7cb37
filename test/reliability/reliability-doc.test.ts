/**
 * RELIABILITY.md agrees with the catalog (bad-inputs.cases.ts), the memory bounds
 * (bad-inputs.test.ts) and the fault matrix (faults-matrix.ts). The tables are
 * written by `npx tsx scripts/reliability-doc.ts`; this test fails when someone adds
 * a case or a cell and forgets to run it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BAD_INPUT_CASES } from './bad-inputs.cases.js';
import { FAULT_KINDS, MATRIX_ROWS, rowLabel } from './faults-matrix.js';

const doc = readFileSync(new URL('../../RELIABILITY.md', import.meta.url), 'utf8');

/** The text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`. */
function generated(name: string): string {
  const match = new RegExp(
    `<!-- generated:${name} -->\\n([\\s\\S]*?)\\n<!-- /generated:${name} -->`,
  ).exec(doc);
  if (match === null) {
    throw new Error(`RELIABILITY.md has no generated "${name}" block`);
  }
  return match[1]!;
}

/** Table rows (not header or separator) of a block, split into unescaped cells. */
function rows(block: string): string[][] {
  return block
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((cell) => cell.replaceAll('\\|', '|')),
    );
}

describe('RELIABILITY.md', () => {
  it('lists every catalog case, in order, with its expected code', () => {
    const documented = rows(generated('catalog'))
      .filter((cells) => cells[0] !== 'case')
      .map((cells) => [cells[0], cells[1]]);
    const catalog = BAD_INPUT_CASES.map((entry) => [
      entry.name,
      entry.expectedCode === null ? 'valid, echoed' : `\`${entry.expectedCode}\``,
    ]);
    expect(documented).toEqual(catalog);
  });

  it('states the memory bounds bad-inputs.test.ts asserts', () => {
    const source = readFileSync(new URL('./bad-inputs.test.ts', import.meta.url), 'utf8');
    const bound = (name: string): string =>
      new RegExp(`const ${name} = (\\d+) \\* 2 \\*\\* 20;`).exec(source)?.[1] ?? 'missing';
    expect(generated('catalog')).toContain(
      `peak growth < ${bound('PEAK_BOUND')} MiB, retained after a full GC < ${bound('RETAINED_BOUND')} MiB`,
    );
  });

  it('shows the fault matrix with every row and every fault, all cells run', () => {
    const table = rows(generated('matrix'));
    const header = table.find((cells) => cells[0] === 'framing');
    expect(header).toEqual(['framing', ...FAULT_KINDS.map((kind) => kind.name)]);
    const labels = MATRIX_ROWS.map(rowLabel);
    const matrix = table.filter((cells) => labels.includes(cells[0]!));
    expect(matrix.map((cells) => cells[0])).toEqual(labels);
    for (const cells of matrix) {
      expect(cells).toHaveLength(FAULT_KINDS.length + 1);
      expect(cells.filter((cell) => cell === 'not run' || cell.endsWith('✗'))).toEqual([]);
    }
    const faults = table.filter((cells) => FAULT_KINDS.some((kind) => kind.name === cells[0]));
    expect(faults.map((cells) => cells.slice(0, 3))).toEqual(
      FAULT_KINDS.map((kind) => [kind.name, kind.fault, kind.detector]),
    );
  });
});
