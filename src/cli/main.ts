#!/usr/bin/env node
// Placeholder until the CLI lands (issue "The switchboard CLI and the main job").
console.error('switchboard: the CLI is not built yet; the library is importable as "switchboard".');
process.exitCode = 2;
