// drive.mjs calls from waihu's softphone page in headless Chromium and
// prints what the page saw as one JSON line. cmd/waihu's phone test runs it:
//
//   node test/drive.mjs --url http://127.0.0.1:8080/phone/?raw=1 \
//        --wav speech48k.wav --talk 4 [--digits 12] [--cancel MS]
//        [--chromium /usr/bin/chromium] [--token API_TOKEN] [--screenshot FILE]
//
// With --cancel the page hangs up MS after the far end starts ringing.
// With --token the page shows the call's live transcript from /ws/events:
// the driver waits, while the call is up, for the bot's words and the
// caller's to appear in it, and reports them (and a screenshot then).
//
// Chromium takes its microphone from the WAV (48 kHz, 16-bit; it loops).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function args() {
  const out = { chromium: '/usr/bin/chromium', talk: '4', digits: '' };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) out[a[i].replace(/^--/, '')] = a[i + 1];
  if (!out.url || !out.wav) throw new Error('usage: drive.mjs --url URL --wav FILE [--talk SECONDS] [--digits 123] [--cancel MS] [--insecure 1] [--chromium PATH]');
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// talk waits for the answer, talks, presses keys, mutes and hangs up.
async function talk(page, o, result) {
  await page.waitForFunction(() => {
    const s = window.waihuPhone.status;
    return s === 'in call' || s.startsWith('failed');
  }, null, { timeout: 15000 });
  const status = await page.evaluate(() => window.waihuPhone.status);
  if (status !== 'in call') throw new Error(`call ${status}`);
  await sleep(Number(o.talk) * 1000);
  if (o.token) {
    // Live: the bot's words and the caller's must be on the page while the
    // call is still up. The bot waits for the caller's end of speech and
    // the recogniser's final, which a loaded machine can delay well past
    // the usual second or two: the bound only stops a broken page.
    await page.waitForFunction(() => {
      const kinds = window.waihuPhone.transcript.map((e) => e.kind);
      return kinds.includes('bot_said') && kinds.includes('caller_said');
    }, null, { timeout: 45000 }).catch(() => {});
    result.transcriptLive = await page.evaluate(() => window.waihuPhone.transcript);
    result.statusDuringTranscript = await page.evaluate(() => window.waihuPhone.status);
    result.transcriptText = await page.textContent('#transcript');
    if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: true });
  }
  // JsSIP spaces keys 500 ms apart (its default inter-tone gap): give
  // each its time before the call ends.
  for (const d of o.digits) {
    await page.click(`#keypad button[data-digit="${d}"]`);
    await sleep(700);
  }
  result.stats = await page.evaluate(() => window.waihuPhone.stats());
  // Muted, the browser sends silence: the server's recording ends quiet.
  await page.click('#mute');
  result.mutedLabel = await page.textContent('#mute');
  await sleep(1500);
  await page.click('#hangup');
  await page.waitForFunction(() => window.waihuPhone.status.startsWith('ended'), null, { timeout: 10000 });
  result.events = await page.evaluate(() => window.waihuPhone.events);
  result.digits = await page.textContent('#digits');
  if (o.token) {
    // The server's "ended" event follows the BYE.
    await page.waitForFunction(() => window.waihuPhone.transcript.some((e) => e.kind === 'ended'), null, { timeout: 10000 }).catch(() => {});
    result.transcript = await page.evaluate(() => window.waihuPhone.transcript);
    result.callId = await page.evaluate(() => window.waihuPhone.callId);
  }
}

async function main() {
  const o = args();
  // Playwright refuses --user-data-dir in args: a persistent context in a
  // fresh directory is the way to give Chromium one.
  const dir = mkdtempSync(join(tmpdir(), 'waihu-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: o.chromium,
    headless: true,
    // --insecure 1: accept a test's self-signed certificate (page and wss).
    ignoreHTTPSErrors: !!o.insecure,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${o.wav}`,
      '--autoplay-policy=no-user-gesture-required',
      // A machine with only loopback (a CI container) still gets host
      // candidates.
      '--allow-loopback-in-peer-connection',
      ...(o.insecure ? ['--ignore-certificate-errors'] : []),
    ],
  });
  const result = { console: [] };
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
    page.on('pageerror', (e) => result.console.push(String(e)));
    await page.goto(o.url);
    await page.waitForFunction(() => window.waihuPhone && window.waihuPhone.status === 'ready', null, { timeout: 10000 });
    if (o.token) {
      await page.click('summary');
      await page.fill('#token', o.token);
      await page.dispatchEvent('#token', 'change');
      await page.waitForFunction(() => document.getElementById('transcript-status').textContent.includes('connected'), null, { timeout: 10000 });
    }
    await page.click('#call');
    if (o.cancel) {
      // Hang up while the far end rings: the page cancels the call.
      await page.waitForFunction(() => window.waihuPhone.status === 'ringing', null, { timeout: 15000 });
      await sleep(Number(o.cancel));
      await page.click('#hangup');
      await page.waitForFunction(() => window.waihuPhone.status.startsWith('failed'), null, { timeout: 10000 });
      result.events = await page.evaluate(() => window.waihuPhone.events);
    } else {
      await talk(page, o, result);
    }
  } catch (e) {
    result.error = String(e);
    try {
      result.events = await ctx.pages()[0].evaluate(() => window.waihuPhone && window.waihuPhone.events);
    } catch (_) { /* page gone */ }
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.error ? 1 : 0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
  process.exit(1);
});
