// Which outside components the browser tests need, and what happens when one
// is missing: on a developer machine the tests that need it are skipped; in CI
// (CI=true) a missing component is an error, so a green run means every test
// really ran. This mirrors internal/testenv on the Go side.

import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of the e2e package (holds package.json, screenshots/, test-results/). */
export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where screenshots go; the folder is ignored by git. */
export const SCREENSHOT_DIR = path.join(E2E_DIR, 'screenshots');

/** Where server logs and other run artefacts go; ignored by git. */
export const RESULTS_DIR = path.join(E2E_DIR, 'test-results');

/** Reports whether the tests run under continuous integration. */
export function inCI() {
  const v = process.env.CI;
  return v === 'true' || v === '1';
}

/** Path of the Chromium binary: QSMO_CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumPath() {
  return process.env.QSMO_CHROMIUM || '/usr/bin/chromium';
}

/** Path of the qsmo binary under test, from QSMO_BIN (set by make test-e2e). */
export function qsmoPath() {
  return process.env.QSMO_BIN || '';
}

function executable(p) {
  if (!p) return false;
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks the components a test file needs and returns a value for the
 * `skip` option of describe/test: false when everything is there, else the
 * reason. Under CI=true a missing component throws instead, which fails the
 * file.
 *
 *   const skip = requireComponents({ chromium: true, qsmo: true });
 *   describe('sign in', { skip }, () => { ... });
 *
 * `programs` names command-line tools the test runs (such as dig); they
 * must be on PATH.
 *
 * @param {{chromium?: boolean, qsmo?: boolean, programs?: string[]}} needs
 * @returns {false | string}
 */
export function requireComponents(needs) {
  const missing = [];
  for (const prog of needs.programs ?? []) {
    const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
    if (!dirs.some((d) => executable(path.join(d, prog)))) {
      missing.push(`the program ${prog} (not on PATH)`);
    }
  }
  if (needs.chromium && !executable(chromiumPath())) {
    missing.push(`Chromium at ${chromiumPath()} (install the chromium package or set QSMO_CHROMIUM)`);
  }
  if (needs.qsmo && !executable(qsmoPath())) {
    missing.push('the qsmo binary (QSMO_BIN is unset or not executable; make test-e2e builds it)');
  }
  if (missing.length === 0) return false;
  const reason = `component missing: ${missing.join('; ')}`;
  if (inCI()) {
    throw new Error(`required component missing (CI=true): ${missing.join('; ')}`);
  }
  return reason;
}
