#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Drives migrated's Cockpit page in headless Chromium (playwright-core, Debian's
// /usr/bin/chromium). Runs inside a bench node, next to the cockpit-ws it talks to.
//
//   browser.js admin   URL SHOTS COLD_DOMAIN LIVE_DOMAIN DEST
//   browser.js limited URL SHOTS NODE
//
// admin: starts a cold migration of COLD_DOMAIN to DEST from the page, follows its progress
// without a reload, confirms it from the page; then starts a live migration of LIVE_DOMAIN
// with migratectl and follows it on the same page until "completed".
// limited: an ordinary user sees the data and is refused, with a hint, when disabling NODE.
//
// Prints one "ok ..." or "FAIL ..." line per check and exits 1 after a failure; screenshots
// go to SHOTS.
"use strict";

const { chromium } = require("playwright-core");
const { execFile } = require("child_process");
const path = require("path");

let failures = 0;
function check(ok, what) {
    console.log((ok ? "ok   " : "FAIL ") + "browser: " + what);
    if (!ok)
        failures++;
    return ok;
}

async function shot(page, dir, name) {
    await page.screenshot({ path: path.join(dir, name + ".png"), fullPage: true });
}

// Waits for fn(arg) to be true in the page; false (and a FAIL line) after timeout ms.
async function waitIn(page, what, fn, arg, timeout) {
    try {
        await page.waitForFunction(fn, arg, { timeout, polling: 100 });
        return check(true, what);
    } catch (e) {
        return check(false, what + " (" + e.message.split("\n")[0] + ")");
    }
}

function migrationRow(domain) {
    return `tr.migration[data-domain="${domain}"]`;
}

async function openPage(url) {
    const browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", e => check(false, "no error in the page's script: " + e.message));
    await page.goto(url);
    await waitIn(page, "the page connects to migrated", () => document.body.dataset.ready === "yes", null, 30000);
    return { browser, page };
}

// Records every progress value and status the row of domain shows, as the DOM changes.
async function recordRow(page, domain) {
    await page.evaluate(sel => {
        window.seen = { progress: [], status: [] };
        const note = () => {
            const row = document.querySelector(sel);
            if (!row)
                return;
            const p = row.querySelector("progress");
            const v = p ? Number(p.getAttribute("value")) : NaN;
            if (window.seen.progress[window.seen.progress.length - 1] !== v)
                window.seen.progress.push(v);
            if (window.seen.status[window.seen.status.length - 1] !== row.dataset.status)
                window.seen.status.push(row.dataset.status);
        };
        new MutationObserver(note).observe(document.getElementById("migrations"),
                                           { subtree: true, childList: true, attributes: true });
    }, migrationRow(domain));
}

async function startColdFromPage(page, shots, domain, dest) {
    const row = `#domains tr[data-domain="${domain}"]`;
    await waitIn(page, `the domains table lists ${domain}`, sel => !!document.querySelector(sel), row, 30000);
    await shot(page, shots, "01-overview");
    await page.click(`${row} button[data-action="migrate"]`);
    await waitIn(page, `the plan names ${dest} as a possible destination`,
                 d => !!document.querySelector(`#migrate-plan tr[data-node="${d}"][data-verdict]:not([data-verdict="refused"])`),
                 dest, 30000);
    await page.selectOption("#migrate-kind", "cold");
    await page.selectOption("#migrate-destination", dest);
    await shot(page, shots, "02-migrate-dialog");
    await page.click("#migrate-start");
}

async function followCold(page, shots, domain) {
    const row = migrationRow(domain);
    await waitIn(page, `${domain}'s migration appears`, sel => !!document.querySelector(sel), row, 30000);
    await waitIn(page, `${domain} reaches finished (VERIFY_RESIZE) on the page`,
                 sel => document.querySelector(sel)?.dataset.status === "finished", row, 180000);
    await shot(page, shots, "03-verify-resize");
    const seen = await page.evaluate(() => window.seen);
    const between = seen.progress.filter(v => v > 0 && v < 100);
    check(between.length >= 1 && seen.progress.includes(100),
          `the progress bar moved without a reload: ${JSON.stringify(seen.progress)}`);
    check(seen.status.includes("migrating") && seen.status.includes("finished"),
          `the status followed the object: ${JSON.stringify(seen.status)}`);
    const badge = await page.textContent(`${row} td.status`);
    check(badge.includes("VERIFY_RESIZE"), `the row says VERIFY_RESIZE: "${badge.trim()}"`);
}

async function confirmFromPage(page, shots, domain) {
    const row = migrationRow(domain);
    await page.click(`${row} button[data-action="confirm"]`);
    await waitIn(page, `${domain} is confirmed from the page`,
                 sel => document.querySelector(sel)?.dataset.status === "confirmed", row, 60000);
    await shot(page, shots, "04-confirmed");
    const origins = await page.$$eval(`tr.history-row[data-path="${await page.getAttribute(row, "data-path")}"] li`,
                                      items => items.map(li => li.dataset.origin + ":" + li.dataset.status));
    const live = origins.filter(o => o.startsWith("signal:"));
    check(live.length >= 3 && origins.some(o => o.endsWith(":confirmed")),
          `the history grew with each step's signal: ${JSON.stringify(origins)}`);
}

function run(cmd, args) {
    return new Promise(resolve => execFile(cmd, args, (err, stdout, stderr) =>
        resolve({ code: err ? err.code : 0, stdout, stderr })));
}

function migratectl(args) {
    return run("migratectl", args);
}

// True once no migrated runs in this node (it exits after IdleTimeout), within ms.
async function daemonExits(ms) {
    for (let t = 0; t < ms; t += 250) {
        if ((await run("pgrep", ["-x", "migrated"])).code !== 0)
            return true;
        await new Promise(r => setTimeout(r, 250));
    }
    return false;
}

async function liveFromMigratectl(page, shots, domain, dest) {
    const row = migrationRow(domain);
    await recordRow(page, domain);
    // The page makes no call while nothing happens: the daemon exits on idle, and the next
    // call starts it again (D-Bus activation). The open page must follow the new daemon.
    check(await daemonExits(30000), "the daemon exits on idle while the page is open");
    const started = await migratectl(["migrate", domain, "--live", "--block-migration", "--host", dest]);
    check(started.code === 0, `migratectl starts the live migration of ${domain}: ${started.stderr.trim()}`);
    await waitIn(page, `the live migration of ${domain} appears on the open page`,
                 sel => document.querySelector(sel)?.dataset.kind === "live", row, 30000);
    await waitIn(page, `${domain} reaches completed on the page`,
                 sel => document.querySelector(sel)?.dataset.status === "completed", row, 120000);
    await shot(page, shots, "05-live-completed");
    const statuses = await page.$$eval(`tr.history-row[data-path="${await page.getAttribute(row, "data-path")}"] li`,
                                       items => items.map(li => li.dataset.status));
    check(statuses.includes("running") && statuses.includes("completed"),
          `its history shows its steps: ${JSON.stringify(statuses)}`);
}

// Disables node with a reason from the page, sees the reason in the table, enables it again.
async function disableEnable(page, shots, node) {
    const row = `#nodes tr[data-node="${node}"]`;
    await page.click(`${row} button[data-action="host-disable"]`);
    await page.fill("#disable-reason", "kernel upgrade from the page");
    await page.click("#disable-start");
    await waitIn(page, `${node} shows disabled with the reason`,
                 sel => document.querySelector(sel)?.dataset.state === "disabled" &&
                        document.querySelector(sel + " td.reason").textContent === "kernel upgrade from the page",
                 row, 30000);
    const hosts = await migratectl(["--json", "hosts"]);
    const entry = JSON.parse(hosts.stdout || "[]").find(h => h.node === node) || {};
    check(entry.enabled === false && entry["disabled-reason"] === "kernel upgrade from the page",
          `migratectl hosts agrees: ${JSON.stringify({ enabled: entry.enabled, reason: entry["disabled-reason"] })}`);
    await shot(page, shots, "06-node-disabled");
    await page.click(`${row} button[data-action="host-enable"]`);
    await waitIn(page, `${node} is enabled again from the page`,
                 sel => document.querySelector(sel)?.dataset.state === "enabled", row, 30000);
}

// Evacuates node from the page (both domains run there), follows it to "completed", then
// restores it from the page: the domains come back.
async function evacuateRestore(page, shots, node, domains, other) {
    const row = `#nodes tr[data-node="${node}"]`;
    await page.click(`${row} button[data-action="evacuate"]`);
    await page.check("#evacuate-live");
    await page.click("#evacuate-start");
    await waitIn(page, `the evacuation of ${node} shows and completes on the page`,
                 n => document.querySelector(`#evacuations tr[data-node="${n}"][data-kind="evacuate"]`)?.dataset.status === "completed",
                 node, 240000);
    await waitIn(page, `its domains are on ${other} and ${node} is disabled`,
                 ([ds, o, n]) => ds.every(d => document.querySelector(`#domains tr[data-domain="${d}"]`)?.dataset.node === o) &&
                                 document.querySelector(`#nodes tr[data-node="${n}"]`)?.dataset.state === "disabled",
                 [domains, other, node], 60000);
    await shot(page, shots, "07-evacuated");
    await page.click(`${row} button[data-action="restore"]`);
    await waitIn(page, `restore from the page brings them back to ${node}, enabled`,
                 ([ds, n]) => ds.every(d => document.querySelector(`#domains tr[data-domain="${d}"]`)?.dataset.node === n) &&
                              document.querySelector(`#nodes tr[data-node="${n}"]`)?.dataset.state === "enabled" &&
                              document.querySelector(`#evacuations tr[data-node="${n}"][data-kind="restore"]`)?.dataset.status === "completed",
                 [domains, node], 240000);
}

async function admin(url, shots, cold, live, dest) {
    const { browser, page } = await openPage(url);
    try {
        await waitIn(page, "the page says it has administrative access",
                     () => document.getElementById("access").dataset.state === "admin", null, 15000);
        await recordRow(page, cold);
        await startColdFromPage(page, shots, cold, dest);
        await followCold(page, shots, cold);
        await confirmFromPage(page, shots, cold);
        await liveFromMigratectl(page, shots, live, dest);
        await disableEnable(page, shots, dest);
        const source = await page.$eval("#node-name", e => e.textContent.replace(/^on /, ""));
        await evacuateRestore(page, shots, dest, [cold, live], source);
    } finally {
        await browser.close();
    }
}

async function limited(url, shots, node) {
    const { browser, page } = await openPage(url);
    try {
        await waitIn(page, "an ordinary user sees the domains",
                     () => document.querySelectorAll("#domains tbody tr").length > 0, null, 30000);
        await waitIn(page, "... and the migrations",
                     () => document.querySelectorAll("#migrations tr.migration").length > 0, null, 30000);
        await waitIn(page, "the page says the access is limited",
                     () => document.getElementById("access").dataset.state === "limited", null, 15000);
        await page.click(`#nodes tr[data-node="${node}"] button[data-action="host-disable"]`);
        await page.fill("#disable-reason", "tried without administrative access");
        await page.click("#disable-start");
        await waitIn(page, "disabling a node is refused with AccessDenied",
                     () => !document.getElementById("alert").hidden &&
                           document.getElementById("alert").dataset.error === "org.freedesktop.DBus.Error.AccessDenied",
                     null, 30000);
        const text = await page.textContent("#alert");
        check(/administrative access/.test(text), `the refusal says how to get access: "${text.trim()}"`);
        await shot(page, shots, "08-limited-refused");
        await page.click("#alert-close");
        const domain = await page.getAttribute("#domains tbody tr", "data-domain");
        await page.click(`#domains tr[data-domain="${domain}"] button[data-action="migrate"]`);
        await page.click("#migrate-start");
        await waitIn(page, `migrating ${domain} is refused with AccessDenied too`,
                     () => document.getElementById("alert").dataset.error === "org.freedesktop.DBus.Error.AccessDenied" &&
                           /org\.example\.migrate1\.migrate/.test(document.getElementById("alert-text").textContent),
                     null, 30000);
    } finally {
        await browser.close();
    }
}

async function main() {
    const [mode, url, shots, ...rest] = process.argv.slice(2);
    if (mode === "admin" && rest.length === 3)
        await admin(url, shots, ...rest);
    else if (mode === "limited" && rest.length === 1)
        await limited(url, shots, ...rest);
    else {
        console.error("usage: browser.js admin URL SHOTS COLD_DOMAIN LIVE_DOMAIN DEST | limited URL SHOTS NODE");
        process.exit(2);
    }
    process.exit(failures ? 1 : 0);
}

main().catch(e => {
    console.log("FAIL browser: " + e.message.split("\n")[0]);
    process.exit(1);
});
