/**
 * Writes docs/ERRORS.md from the code table in src/errors.ts.
 * Run: `npx tsx scripts/errors-doc.ts`. test/errors.test.ts fails when they disagree.
 */
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';

const rows = Object.entries(ERROR_CODES).map(
  ([code, entry]) => `| \`${code}\` | ${entry.class} | ${entry.summary.replaceAll('|', '\\|')} |`,
);
const text = `# Error codes

Every error switchboard throws is a \`SwitchboardError\` with a stable \`code\`.
Match on the code, never on the message. Messages name the limit and the size
involved and never contain bytes received from a peer. Decode errors also carry
\`offset\`: the byte offset, from the start of the input, of the first byte of the
frame that failed.

Classes by who is at fault: \`FrameError\` and \`UnexpectedEofError\` (the peer),
\`TimeoutError\` (a deadline), \`ConnectionError\` (the network or connection
state), \`StructError\` (\`pack\`/\`unpack\` input CPython would reject),
\`InvalidArgumentError\` (the caller). Any other exception escaping a decoder is a bug.

The CLI prints errors as \`switchboard: <code>: <message>\` and exits 1 for data
and protocol errors, 2 for usage errors, 3 for network errors.

| code | class | meaning |
| --- | --- | --- |
${rows.join('\n')}
`;
writeFileSync(new URL('../docs/ERRORS.md', import.meta.url), text);
