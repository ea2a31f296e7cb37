/**
 * Rewrites the code table of docs/ERRORS.md from the one in src/errors.ts.
 * Run: `npx tsx scripts/errors-doc.ts`. test/errors.test.ts fails when they disagree.
 *
 * Only the table is generated: the prose around it (what a code means to a caller,
 * which promises may go unawaited, the warnings) is written by hand in ERRORS.md and
 * kept as it is. The script used to write the whole file from a copy of that prose,
 * so running it dropped every paragraph added to ERRORS.md since.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';

const HEADER = '| code | class | meaning |\n| --- | --- | --- |\n';
const path = new URL('../docs/ERRORS.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const start = doc.indexOf(HEADER);
if (start === -1) {
  throw new Error(`docs/ERRORS.md has no table starting with ${JSON.stringify(HEADER)}`);
}
// The table runs from its header to the first line that is not a table row.
let end = start + HEADER.length;
while (doc.startsWith('|', end)) {
  const next = doc.indexOf('\n', end);
  end = next === -1 ? doc.length : next + 1;
}
const rows = Object.entries(ERROR_CODES).map(
  ([code, entry]) => `| \`${code}\` | ${entry.class} | ${entry.summary.replaceAll('|', '\\|')} |\n`,
);
writeFileSync(path, `${doc.slice(0, start)}${HEADER}${rows.join('')}${doc.slice(end)}`);
