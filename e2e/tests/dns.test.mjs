// Protective DNS as an agency and the office use it: the agency admin
// opens how-to-connect, adds a name to the deny list, asks for it with dig
// and finds the query in the query log; the office adds a threat feed and
// sees its status, and the feed's names are blocked. Every page visited
// passes axe (WCAG 2.1 AA) with no browser errors.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { closeBrowser, newPage, requireComponents, screenshot, startServer } from '../lib/index.mjs';
import { signIn, visit } from '../lib/portal.mjs';

const run = promisify(execFile);
const skip = requireComponents({ chromium: true, qsmo: true, programs: ['dig'] });

// dig asks the server's resolver over UDP (or TCP) from a loopback source
// address and returns the response code.
async function dig(server, name, { source = '127.0.0.1', tcp = false } = {}) {
  const [host, port] = [server.dnsAddr.slice(0, server.dnsAddr.lastIndexOf(':')), server.dnsAddr.slice(server.dnsAddr.lastIndexOf(':') + 1)];
  const args = [`@${host}`, '-p', port, '-b', source, name, 'A', '+tries=1', '+time=3'];
  if (tcp) args.push('+tcp');
  const { stdout } = await run('dig', args, { timeout: 10_000 });
  const m = stdout.match(/status: ([A-Z]+)/);
  assert.ok(m, `dig printed no status:\n${stdout}`);
  return { status: m[1], out: stdout };
}

// eventually retries fn until it stops throwing or the time is up (the
// query log writes within a second; feed status reaches the database
// within the resolver's two-second poll).
async function eventually(fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

describe('Protective DNS', { skip }, () => {
  let server;
  let page;
  let energyURL;
  before(async () => {
    server = await startServer();
    assert.ok(server.dnsAddr, 'the server printed the address of its resolver');
    page = await newPage({ baseURL: server.baseURL });
  });
  after(async () => {
    await page?.close();
    await closeBrowser();
    await server?.stop();
  });

  test('in demo mode one dig shows a block', async () => {
    assert.equal((await dig(server, 'blocked.qsmo.test')).status, 'NXDOMAIN');
    assert.equal((await dig(server, 'www.blocked.qsmo.test', { tcp: true })).status, 'NXDOMAIN');
    // 127.0.0.2 belongs to the Department of the Treasury, which answers
    // blocks with the block page: the demo name is not on its lists.
    const treasury = await dig(server, 'blocked.qsmo.test', { source: '127.0.0.2' });
    assert.notEqual(treasury.status, 'REFUSED');
  });

  test('an agency admin finds how to connect', async () => {
    await signIn(page, 'admin@energy.example.gov');
    const nav = page.getByRole('navigation', { name: 'Primary navigation' });
    await nav.getByRole('link', { name: 'Protective DNS' }).click();
    await page.getByRole('heading', { level: 1, name: 'Protective DNS' }).waitFor();
    await visit(page, null, 'dns-overview');
    energyURL = new URL(page.url()).pathname;
    await page.getByRole('img', { name: /Queries over time/ }).waitFor();
    await page.getByText('Show the data as a table').click();
    await page.getByRole('table', { name: 'Queries over time' }).waitFor();
    await screenshot(page, 'dns-overview');

    await page.getByRole('link', { name: 'How to connect' }).click();
    await page.getByRole('heading', { level: 1, name: 'How to connect' }).waitFor();
    await visit(page, null, 'dns-connect');
    assert.equal((await page.locator('#dns-0').textContent()).trim(), server.dnsAddr);
    const doh = (await page.locator('#doh-0').textContent()).trim();
    assert.match(doh, new RegExp(`^${server.baseURL}/dns-query/[a-z0-9]{32}$`));
    // The copy button appears with JavaScript; without it the text is there to select.
    await page.getByRole('button', { name: 'Copy the DNS over HTTPS URL' }).waitFor();
    await screenshot(page, 'dns-connect');
  });

  test('the admin adds a name to the deny list and it is blocked at once', async () => {
    await page.goto(`${energyURL}/policy`);
    await visit(page, null, 'dns-policy');
    const deny = page.getByLabel('Deny list');
    await deny.fill('not a name!\n');
    await page.getByRole('button', { name: 'Save the policy' }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    await page.getByRole('link', { name: /“not”: / }).waitFor();
    await visit(page, null, 'dns-policy-errors');
    await screenshot(page, 'dns-policy-errors');

    await deny.fill('denied-by-e2e.example\n*.free-vpn-download.example\n');
    await page.getByRole('button', { name: 'Save the policy' }).click();
    await page.getByText('The policy is saved').waitFor();
    await visit(page, null, 'dns-policy-saved');
    await screenshot(page, 'dns-policy');
    await eventually(async () => assert.equal((await dig(server, 'denied-by-e2e.example')).status, 'NXDOMAIN'));
    assert.equal((await dig(server, 'www.denied-by-e2e.example', { tcp: true })).status, 'NXDOMAIN');
  });

  test('the denied query appears in the query-log search', async () => {
    await page.goto(`${energyURL}/queries`);
    await visit(page, null, 'dns-queries');
    await page.getByLabel('Name').fill('denied-by-e2e.example');
    await page.getByLabel('Outcome').selectOption('blocked');
    await eventually(async () => {
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForLoadState('domcontentloaded');
      await page.getByRole('rowheader', { name: 'www.denied-by-e2e.example' }).waitFor({ timeout: 1000 });
    });
    await page.getByRole('rowheader', { name: 'denied-by-e2e.example', exact: true }).first().waitFor();
    await visit(page, null, 'dns-queries-found');
    assert.ok(await page.getByRole('cell', { name: /denied-by-e2e\.example\s*Your deny list/ }).count() > 0);
    await screenshot(page, 'dns-queries');
    const href = await page.getByRole('link', { name: /Download these queries as OCSF/ }).getAttribute('href');
    const res = await page.request.get(href);
    assert.equal(res.status(), 200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length >= 2);
    assert.equal(lines[0].class_uid, 4003);
    assert.equal(lines[0].query.hostname.endsWith('denied-by-e2e.example'), true);
  });

  test('the office adds a threat feed and sees its status', async () => {
    const office = await newPage({ baseURL: server.baseURL });
    const feedsDir = path.join(server.dataDir, 'feeds');
    mkdirSync(feedsDir, { recursive: true });
    writeFileSync(path.join(feedsDir, 'e2e-c2.txt'), '# c2 servers seen in an incident\nc2-one.e2e-threat.example\nc2-two.e2e-threat.example\n');
    await signIn(office, 'admin@office.example.gov');
    await visit(office, '/dns', 'dns-office');
    await office.getByRole('heading', { level: 1, name: 'Protective DNS' }).waitFor();
    await screenshot(office, 'dns-office');
    await office.getByRole('link', { name: 'Threat feeds' }).click();
    await visit(office, null, 'dns-feeds');
    await office.getByRole('link', { name: 'Add a feed' }).click();
    await visit(office, null, 'dns-feed-new');
    await office.getByLabel('Name', { exact: true }).fill('Incident 42 C2');
    await office.getByLabel('Source').fill('no-such-file.txt');
    await office.getByLabel('Threat category').selectOption('c2');
    await office.getByRole('button', { name: 'Add the feed' }).click();
    await office.getByText(/There is no file “no-such-file.txt”/).first().waitFor();
    await visit(office, null, 'dns-feed-new-errors');
    await office.getByLabel('Source').fill('e2e-c2.txt');
    await office.getByLabel('Format').selectOption('plain');
    await office.getByRole('button', { name: 'Add the feed' }).click();
    await office.getByRole('heading', { level: 1, name: 'Incident 42 C2' }).waitFor();
    await eventually(async () => {
      await office.reload();
      await office.getByText('OK', { exact: true }).first().waitFor({ timeout: 1000 });
    });
    await visit(office, null, 'dns-feed');
    assert.ok(await office.getByRole('definition').filter({ hasText: /^2 \(plain format\)$/ }).count() === 1, 'two names in force');
    await screenshot(office, 'dns-feed');
    await visit(office, '/dns/feeds', 'dns-feeds-status');
    await screenshot(office, 'dns-feeds');
    await visit(office, '/dns/blocks', 'dns-blocks');
    await screenshot(office, 'dns-blocks');
    await office.close();

    // The Department of Energy blocks command and control.
    assert.equal((await dig(server, 'c2-two.e2e-threat.example')).status, 'NXDOMAIN');
  });

  test('the agency sees the possibly infected device it was told about', async () => {
    await visit(page, '/notifications', 'notifications');
    await page.getByRole('link', { name: /Possibly infected device at 198\.51\.100\.23/ }).first().click();
    await page.getByRole('heading', { level: 2, name: 'Possibly infected devices' }).waitFor();
    await page.getByRole('rowheader', { name: '198.51.100.23' }).waitFor();
    await visit(page, null, 'dns-overview-suspects');
  });
});
