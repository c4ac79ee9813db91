// A reporter for node's test runner: one line per test, the errors of failed
// tests, the tail of the server logs of test files that failed, and exactly
// one closing line "N passed, N failed" (", N skipped" added when some were)
// that CI reads.
//
// Counting: a test counts once, at its leaf; a suite or parent test counts
// only when it fails on its own account (a failing hook, or code after its
// subtests), and a test file that fails outside any test (it does not load,
// or its process dies) counts as one failure.

import { readdirSync } from 'node:fs';
import path from 'node:path';

import { LOG_DIR, tail } from './server.mjs';

function relName(file) {
  return file ? path.relative(process.cwd(), file) || file : '';
}

function formatError(err) {
  const e = err?.cause ?? err;
  if (!e) return 'unknown error';
  const msg = e.message ?? String(e);
  const frames = String(e.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !/\(node:|at node:/.test(l))
    .slice(0, 6);
  return [`${e.name && !msg.startsWith(e.name) ? `${e.name}: ` : ''}${msg}`, ...frames.map((l) => l.trim())].join('\n');
}

function indent(text, pad) {
  return text.split('\n').map((l) => pad + l).join('\n');
}

function logsFor(file) {
  const base = path.basename(file);
  try {
    return readdirSync(LOG_DIR)
      .filter((n) => n.startsWith(`${base}.`) && n.endsWith('.log'))
      .sort()
      .map((n) => path.join(LOG_DIR, n));
  } catch {
    return [];
  }
}

/**
 * @param {AsyncIterable<{type: string, data: any}>} source
 */
export default async function* reporter(source) {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failedFiles = new Set();
  const names = new Map(); // file -> names of the running tests by nesting
  const children = new Map(); // file -> count of finished tests by nesting
  const fileFailCounted = new Set();
  const fileComplete = new Map(); // file -> failure type of the file as a whole

  const fail = (file) => {
    failed += 1;
    if (file) failedFiles.add(file);
  };

  for await (const { type, data } of source) {
    switch (type) {
      case 'test:start': {
        const stack = names.get(data.file) ?? [];
        stack.length = data.nesting;
        stack[data.nesting] = data.name;
        names.set(data.file, stack);
        break;
      }
      case 'test:pass':
      case 'test:fail': {
        const file = data.file;
        const counts = children.get(file) ?? [];
        children.set(file, counts);
        const kids = counts[data.nesting + 1] ?? 0;
        counts[data.nesting + 1] = 0;
        counts[data.nesting] = (counts[data.nesting] ?? 0) + 1;

        const isFileLevel = data.nesting === 0 && data.name === file;
        const stack = names.get(file) ?? [];
        const title = isFileLevel
          ? relName(file)
          : [...stack.slice(0, data.nesting), data.name].join(' › ');
        const ms = data.details?.duration_ms;
        const took = typeof ms === 'number' ? ` (${Math.round(ms)}ms)` : '';
        const isSuite = data.details?.type === 'suite';

        if (type === 'test:fail') {
          const why = data.details?.error?.failureType;
          if (kids > 0 && why === 'subtestsFailed') {
            // Counted at the failing leaves already.
            break;
          }
          if (isFileLevel) fileFailCounted.add(file);
          fail(file);
          yield `✖ ${title}${took}\n${indent(formatError(data.details?.error), '    ')}\n`;
          break;
        }
        if (data.skip !== undefined || data.todo !== undefined) {
          if (kids === 0) {
            skipped += 1;
            const reason = typeof data.skip === 'string' ? data.skip : typeof data.todo === 'string' ? data.todo : '';
            yield `﹣ ${title} # ${data.todo !== undefined ? 'TODO' : 'SKIP'}${reason ? ` ${reason}` : ''}\n`;
          }
          break;
        }
        if (kids === 0 && !isSuite) {
          passed += 1;
          yield `✔ ${title}${took}\n`;
        }
        break;
      }
      case 'test:complete': {
        if (data.nesting === 0 && data.name === data.file && data.details?.error) {
          fileComplete.set(data.file, data.details.error);
        }
        break;
      }
      case 'test:stdout':
      case 'test:stderr': {
        if (data.message) yield data.message;
        break;
      }
      case 'test:diagnostic': {
        // The runner's own totals (no file) are replaced by the closing line below.
        if (data.file) yield `ℹ ${data.message}\n`;
        break;
      }
      default:
        break;
    }
  }

  for (const [file, err] of fileComplete) {
    if (err.failureType !== 'subtestsFailed' && !fileFailCounted.has(file)) {
      fail(file);
      yield `✖ ${relName(file)}\n${indent(formatError(err), '    ')}\n`;
    }
  }

  for (const file of failedFiles) {
    for (const log of logsFor(file)) {
      yield `\n--- server log of ${relName(file)}: ${log} (last lines)\n${tail(log, 80)}\n--- end of log\n`;
    }
  }

  const secs = ((Date.now() - started) / 1000).toFixed(1);
  yield `\nbrowser tests took ${secs}s\n`;
  yield `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`;
}
