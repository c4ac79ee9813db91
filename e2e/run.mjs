// Runs the browser tests: every tests/*.test.mjs (or the files named on the
// command line) under node's test runner with the harness reporter, which
// ends with the line "N passed, N failed".
//
//   node run.mjs                       all tests
//   node run.mjs tests/harness.test.mjs
//
// Exits non-zero when a test failed or when there is no test file to run.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import { E2E_DIR } from './lib/env.mjs';
import { LOG_DIR } from './lib/server.mjs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`browser tests need Node.js 20 or newer (playwright-core 1.64); this is ${process.version}`);
  process.exit(2);
}

const testsDir = path.join(E2E_DIR, 'tests');
let files = process.argv.slice(2).map((f) => path.resolve(f));
if (files.length === 0) {
  files = readdirSync(testsDir)
    .filter((n) => n.endsWith('.test.mjs'))
    .sort()
    .map((n) => path.join(testsDir, n));
}
const absent = files.filter((f) => !existsSync(f));
if (absent.length > 0) {
  console.error(`no such test file: ${absent.join(', ')}`);
  process.exit(2);
}
if (files.length === 0) {
  console.error(`no test files (*.test.mjs) in ${testsDir}`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}

// Logs of an earlier run would be shown as this run's.
rmSync(LOG_DIR, { recursive: true, force: true });

const res = spawnSync(
  process.execPath,
  [
    '--test',
    // A test that hangs fails after two minutes instead of holding the run
    // until CI's limit; Playwright's own waits are shorter (15 s).
    '--test-timeout=120000',
    `--test-reporter=${path.join(E2E_DIR, 'lib', 'reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: E2E_DIR, stdio: 'inherit' },
);
if (res.error) {
  console.error(`cannot run node --test: ${res.error.message}`);
  process.exit(2);
}
process.exit(res.status ?? 1);
