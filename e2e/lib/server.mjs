// Starting the server under test as a child process on a loopback port, with
// a fresh data directory, and stopping it again.
//
// The server's stdout and stderr go to a log file under test-results/logs/,
// named after the test file; the reporter prints the tail of those logs for
// every test file that had a failure, and a server that does not get ready
// puts its log tail into the error.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { RESULTS_DIR, qsmoPath } from './env.mjs';

/** Password of the demo users, passed as QSMO_DEMO_PASSWORD; tests sign in with it. */
export const TEST_PASSWORD = 'e2e-Correct-Horse-7-battery';

/** Folder of server logs; the reporter reads it to show logs of failed files. */
export const LOG_DIR = path.join(RESULTS_DIR, 'logs');

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

// Children still running when the test process exits are killed, so a
// crashed or interrupted test file never leaves a server behind.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Log files are named after the test file that started the server so the
// reporter can match them to failures: <file>.<n>.log.
let logSeq = 0;
function newLogPath() {
  const testFile = path.basename(process.argv[1] || 'e2e');
  mkdirSync(LOG_DIR, { recursive: true });
  logSeq += 1;
  return path.join(LOG_DIR, `${testFile}.${process.pid}.${logSeq}.log`);
}

/** Returns the last `lines` lines of a text file, or a note if it cannot be read. */
export function tail(file, lines = 60) {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(cannot read ${file}: ${err.message})`;
  }
}

// waitReady polls url until it answers 200, the time is up, or stop is
// aborted (the caller stopped waiting for another reason).
async function waitReady(url, timeoutMs, stop) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = 'no answer yet';
  while (Date.now() < deadline && !stop.aborted) {
    try {
      const res = await fetch(url, { signal: AbortSignal.any([stop, AbortSignal.timeout(2_000)]) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      lastErr = `status ${res.status}`;
    } catch (err) {
      lastErr = err.cause?.code || err.message;
    }
    await sleep(100);
  }
  throw new Error(`server not ready within ${timeoutMs} ms: GET ${url}: ${lastErr}`);
}

// dnsAddrs reads the addresses the Protective DNS resolver bound from the
// operator lines qsmo prints ("  dns      127.0.0.1:40123 (UDP and TCP)").
function dnsAddrs(logFile) {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return {};
  }
  return {
    dnsAddr: text.match(/^\s+dns\s+(\S+) \(UDP and TCP\)/m)?.[1],
    dotAddr: text.match(/^\s+dot\s+(\S+) \(DNS over TLS\)/m)?.[1],
  };
}

/**
 * Starts `qsmo serve --demo` on a free loopback port with a fresh data
 * directory and waits until GET /readyz answers 200.
 *
 * The Protective DNS resolver listens on ports the kernel picks
 * (--dns-addr and --dot-addr 127.0.0.1:0), so servers started in parallel
 * never collide; dnsAddr and dotAddr say where it listens. Pass
 * extraArgs ['--dns-addr', ''] to run without it.
 *
 * @param {object} [opts]
 * @param {string} [opts.bin] program to run; defaults to QSMO_BIN
 * @param {string[]} [opts.binArgs] arguments placed before the serve command
 *   (the harness self-test runs a node script this way)
 * @param {string[]} [opts.extraArgs] more flags after the standard ones
 * @param {Record<string,string>} [opts.env] extra environment
 * @param {number} [opts.readyTimeoutMs]
 * @returns {Promise<{baseURL: string, dataDir: string, logFile: string, dnsAddr?: string, dotAddr?: string, stop: () => Promise<void>}>}
 */
export async function startServer(opts = {}) {
  const bin = opts.bin ?? qsmoPath();
  if (!bin) {
    throw new Error('startServer: QSMO_BIN is not set (build with: go build -o <dir>/qsmo ./cmd/qsmo)');
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'qsmo-e2e-data-'));
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const baseURL = `http://${addr}`;
  const logFile = newLogPath();
  const logFd = openSync(logFile, 'a');
  const args = [
    ...(opts.binArgs ?? []),
    'serve', '--demo', '--data-dir', dataDir, '--http-addr', addr,
    '--dns-addr', '127.0.0.1:0', '--dot-addr', '127.0.0.1:0',
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(bin, args, {
    env: { ...process.env, QSMO_DEMO_PASSWORD: TEST_PASSWORD, ...(opts.env ?? {}) },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  running.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const spawnFailed = new Promise((_, reject) => child.once('error', reject));
  // Marks the rejection handled; the race below still sees it.
  spawnFailed.catch(() => {});
  let stopping = false;

  // stop ends the server with SIGTERM (SIGKILL after STOP_TIMEOUT_MS) and
  // removes its data dir. It throws when the server had died on its own,
  // exited with an error or had to be killed: each means a bug the test
  // would otherwise hide.
  async function stop() {
    if (stopping) return;
    stopping = true;
    let killed = false;
    let timer;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
    }
    const { code, signal } = await exited;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
    if (killed) {
      throw new Error(`server did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM; log ${logFile}:\n${tail(logFile)}`);
    }
    if (code !== 0 && signal !== 'SIGTERM') {
      throw new Error(
        `server exited with code ${code}, signal ${signal} (it died during the test or did not shut down cleanly); ` +
          `log ${logFile}:\n${tail(logFile)}`,
      );
    }
  }

  try {
    const exitedEarly = exited.then(({ code, signal }) => {
      throw new Error(`server exited before it was ready (code ${code}, signal ${signal})`);
    });
    exitedEarly.catch(() => {});
    const stopWaiting = new AbortController();
    const ready = waitReady(`${baseURL}/readyz`, opts.readyTimeoutMs ?? READY_TIMEOUT_MS, stopWaiting.signal);
    ready.catch(() => {});
    try {
      await Promise.race([ready, spawnFailed, exitedEarly]);
    } finally {
      stopWaiting.abort();
    }
  } catch (err) {
    stopping = true;
    if (child.pid !== undefined) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    } else {
      // The program could not be started at all; there is nothing to wait for.
      running.delete(child);
    }
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`startServer: ${bin} ${args.join(' ')}: ${err.message}\nlog ${logFile}:\n${tail(logFile)}`);
  }
  return { baseURL, dataDir, logFile, ...dnsAddrs(logFile), stop };
}
