// Self-test of the browser-test harness against a stand-in server
// (fixtures/static-site.mjs): the server lifecycle, Chromium, the axe check
// in both directions, the page's CSP staying in force, and screenshots.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  E2E_DIR,
  checkA11y,
  closeBrowser,
  newPage,
  pageErrors,
  requireComponents,
  screenshot,
  startServer,
} from '../lib/index.mjs';

const FIXTURE = path.join(E2E_DIR, 'fixtures', 'static-site.mjs');
const fixtureServer = (opts = {}) => startServer({ bin: process.execPath, binArgs: [FIXTURE], ...opts });

const skip = requireComponents({ chromium: true });

describe('harness', { skip }, () => {
  let server;
  before(async () => {
    server = await fixtureServer();
  });
  after(async () => {
    await closeBrowser();
    await server?.stop();
  });

  test('startServer passes the flags and waits for readiness', async () => {
    assert.match(server.baseURL, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(path.join(server.dataDir, 'started')), 'the server wrote into the fresh data dir');
    const res = await fetch(`${server.baseURL}/readyz`);
    assert.equal(res.status, 200);
  });

  test('an accessible page passes axe and keeps its CSP', async () => {
    const page = await newPage({ baseURL: server.baseURL });
    await page.goto('/');
    await page.getByText('Script ran.').waitFor();
    const result = await checkA11y(page, 'harness-good');
    assert.ok(result.passes > 0, 'axe ran its rules');
    assert.deepEqual(pageErrors(page), []);
    const file = await screenshot(page, 'harness good page');
    assert.equal(path.basename(file), 'harness-good-page.png');
    const png = readFileSync(file);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
    await page.close();
  });

  test('an inaccessible page fails with a readable list of violations', async () => {
    const page = await newPage({ baseURL: server.baseURL });
    await page.goto('/broken');
    await assert.rejects(checkA11y(page, 'harness-broken'), (err) => {
      assert.match(err.message, /^harness-broken: \d+ accessibility violations/);
      assert.match(err.message, /- image-alt \[critical\]: Images must have alternative text/);
      assert.match(err.message, /at #no-alt/);
      assert.match(err.message, /- label \[critical\]/);
      assert.match(err.message, /at #unlabelled/);
      assert.match(err.message, /screenshot: .*a11y-harness-broken\.png/);
      return true;
    });
    // The inline script was blocked: the page's policy was in force.
    assert.notEqual(await page.title(), 'inline script ran');
    assert.ok(
      pageErrors(page).some((e) => e.includes('Content Security Policy')),
      `a CSP violation was reported, got ${JSON.stringify(pageErrors(page))}`,
    );
    await page.close();
  });
});

describe('server lifecycle', () => {
  test('a server that never gets ready fails in bounded time', async () => {
    const t0 = Date.now();
    await assert.rejects(fixtureServer({ env: { FIXTURE_NEVER_READY: '1' }, readyTimeoutMs: 2000 }), (err) => {
      // Depending on how fast the process starts, the last answer is a 503
      // or a refused connection.
      assert.match(err.message, /not ready within 2000 ms: GET http:\/\/127\.0\.0\.1:\d+\/readyz: (status 503|ECONNREFUSED)/);
      return true;
    });
    const took = Date.now() - t0;
    assert.ok(took >= 2000 && took < 20_000, `the wait was bounded (${took} ms)`);
  });

  test('a server that exits at start fails with its log', async () => {
    await assert.rejects(fixtureServer({ env: { FIXTURE_FAIL_START: '1' } }), (err) => {
      assert.match(err.message, /server exited before it was ready \(code 4, signal null\)/);
      assert.match(err.message, /log .*harness\.test\.mjs\.\d+\.\d+\.log:\nstatic-site: cannot open the database/);
      return true;
    });
  });

  test('a server that crashes during a test is reported by stop()', async () => {
    const s = await fixtureServer();
    await fetch(`${s.baseURL}/crash`).then((r) => r.text());
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      try {
        await fetch(`${s.baseURL}/readyz`);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await assert.rejects(s.stop(), /server exited with code 3, signal null \(it died during the test[\s\S]*crash requested/);
    assert.ok(!existsSync(s.dataDir), 'the data dir was removed');
  });

  test('a missing binary is a clear error', async () => {
    await assert.rejects(startServer({ bin: path.join(E2E_DIR, 'no-such-binary') }), /startServer: .*no-such-binary.*ENOENT/s);
  });
});
