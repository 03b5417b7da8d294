/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Cockpit page of migrated: this node's migrations as the daemon publishes them
 * (ObjectManager, PropertiesChanged and each step's EventAdded signal: nothing is polled),
 * the cluster's domains, nodes and evacuations, and the operator's actions. Every call goes
 * to the daemon on the system bus with Cockpit's administrative access when the user has
 * turned it on (superuser "try"); the daemon's polkit rules decide, as for migratectl.
 */
"use strict";

const BUS = "org.example.Migrate1";
const ROOT = "/org/example/Migrate1";
const MANAGER = BUS + ".Manager";
const MIGRATION = BUS + ".Migration";
const EVACUATION = BUS + ".Evacuation";
const ACCESS_DENIED = [
    "org.freedesktop.DBus.Error.AccessDenied",
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
];

const client = cockpit.dbus(BUS, { bus: "system", superuser: "try" });
const rows = new Map(); /* object path → { row, history } elements */
const histories = new Map(); /* object path → { keys: Set, events: [] } */

/* ---- small helpers ---- */

function $(id) {
    return document.getElementById(id);
}

function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === "class")
            e.className = v;
        else if (k.startsWith("on"))
            e.addEventListener(k.substring(2), v);
        else if (v !== undefined && v !== null && v !== false)
            e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children)
        if (c !== null && c !== undefined)
            e.append(c instanceof Node ? c : String(c));
    return e;
}

function formatBytes(n) {
    if (!n)
        return "0 B";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function formatDuration(usec) {
    const s = Math.max(0, Math.round(usec / 1e6));
    if (s < 60)
        return s + " s";
    const m = Math.floor(s / 60);
    return m < 60 ? m + " min " + (s % 60) + " s" : Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function formatTime(usec) {
    return usec ? new Date(usec / 1000).toLocaleString() : "";
}

/* The value of one a{sv} entry as cockpit.dbus gives it ({ t, v }), or fallback. */
function val(dict, key, fallback) {
    const e = dict ? dict[key] : undefined;
    return e === undefined ? fallback : e.v;
}

/* ---- errors ---- */

function showError(what, err) {
    const name = (err && err.name) || "";
    const text = (err && err.message) || cockpit.message(err);
    $("alert-text").textContent = what + ": " + text + (name ? " (" + name + ")" : "");
    const denied = ACCESS_DENIED.includes(name) || (err && err.problem === "access-denied");
    $("alert-hint").hidden = !denied;
    $("alert-hint").textContent = denied
        ? "This action needs administrative access. Turn it on with the \u201cLimited access\u201d " +
          "button in Cockpit's top bar (your password is asked once), or ask someone whom polkit " +
          "allows the org.example.migrate1 actions."
        : "";
    $("alert").dataset.error = name;
    $("alert").hidden = false;
}

function clearError() {
    $("alert").hidden = true;
    delete $("alert").dataset.error;
}

/* Calls a Manager method; the button stays disabled until the daemon answers. Resolves to the
 * reply, or to null after showing the error. */
function act(button, what, method, signature, args) {
    if (button)
        button.disabled = true;
    clearError();
    return client
            .call(ROOT, MANAGER, method, args, { type: signature })
            .then(reply => {
                refreshCluster();
                return reply;
            })
            .catch(err => {
                showError(what, err);
                return null;
            })
            .finally(() => {
                if (button)
                    button.disabled = false;
            });
}

function actionButton(label, action, onclick) {
    return el("button", { type: "button", "data-action": action, onclick: ev => onclick(ev.target) }, label);
}

/* ---- migrations: one row per Migration object, updated in place ---- */

function statusCell(p) {
    const cell = el("td", { class: "status" }, el("span", { class: "status-word" }, p.Status));
    if (p.Status === "finished" && p.Kind !== "live")
        cell.append(" ", el("span", { class: "badge", title: "waits for confirm or revert" }, "VERIFY_RESIZE"));
    if (p.TaskState)
        cell.append(" ", el("span", { class: "muted task-state" }, p.TaskState));
    if (p.ErrorMessage)
        cell.append(el("div", { class: "error-text" }, p.ErrorMessage));
    return cell;
}

function progressCell(p) {
    const pct = Math.max(0, Math.min(100, p.Progress || 0));
    const bytes = p.BytesTotal ? formatBytes(p.BytesProcessed) + " of " + formatBytes(p.BytesTotal) : "";
    return el("td", { class: "progress" },
              el("progress", { max: "100", value: pct.toFixed(1), "aria-label": "progress" }),
              el("span", { class: "percent" }, pct.toFixed(1) + " %"),
              el("div", { class: "muted bytes" }, bytes));
}

function convergenceCell(p) {
    if (p.Kind !== "live")
        return el("td", { class: "convergence" });
    const parts = [];
    if (p.Iteration)
        parts.push("pass " + p.Iteration);
    if (p.MemoryDirtyRate)
        parts.push("dirtied " + formatBytes(p.MemoryDirtyRate) + "/s");
    if (p.Throttle)
        parts.push("throttle " + p.Throttle + " %");
    if (p.Step)
        parts.push("step " + p.Step);
    return el("td", { class: "convergence" }, el("span", { class: "convergence-word" }, p.Convergence || ""),
              el("div", { class: "muted" }, parts.join(", ")));
}

function downtimeCell(p) {
    if (p.DowntimeMSec)
        return el("td", { class: "downtime" }, p.DowntimeMSec + " ms");
    if (p.ExpectedDowntimeMSec && p.Status === "running")
        return el("td", { class: "downtime muted" }, "expected " + p.ExpectedDowntimeMSec + " ms");
    return el("td", { class: "downtime" });
}

function durationCell(p) {
    const end = p.FinishedUSec || p.UpdatedUSec || p.CreatedUSec;
    return el("td", { class: "duration", title: "started " + formatTime(p.CreatedUSec) },
              formatDuration(end - p.CreatedUSec));
}

function migrationActions(p) {
    const cell = el("td", { class: "actions" });
    const dom = p.DomainName;
    const call = (label, action, method, why) =>
        cell.append(actionButton(label, action, b => act(b, why + " " + dom, method, "sb", [dom, false])));
    if (p.Status === "finished" && p.Kind !== "live") {
        call("Confirm", "confirm", "Confirm", "Confirm");
        call("Revert", "revert", "Revert", "Revert");
    }
    if (p.Kind === "live" && p.Status === "running")
        call("Force complete", "force-complete", "ForceComplete", "Force-complete");
    if (["queued", "preparing", "running", "pre-migrating", "migrating"].includes(p.Status))
        call("Abort", "abort", "Abort", "Abort");
    return cell;
}

function migrationCells(p) {
    return [
        el("td", { class: "domain" }, p.DomainName),
        el("td", { class: "kind" }, p.Kind),
        el("td", { class: "route" }, p.Source + " \u2192 " + p.Destination),
        statusCell(p),
        progressCell(p),
        convergenceCell(p),
        downtimeCell(p),
        durationCell(p),
        migrationActions(p),
    ];
}

function historyRow(path) {
    const list = el("ol", { class: "history" });
    const summary = el("summary", {}, "History");
    return el("tr", { class: "history-row", "data-path": path },
              el("td", { colspan: "9" }, el("details", {}, summary, list)));
}

/* Puts a new pair of rows where its creation time sorts it (newest first). */
function insertSorted(tbody, entry, created) {
    entry.row.dataset.created = String(created);
    for (const other of tbody.querySelectorAll("tr.migration"))
        if (Number(other.dataset.created) < created) {
            tbody.insertBefore(entry.row, other);
            tbody.insertBefore(entry.history, other);
            return;
        }
    tbody.append(entry.row, entry.history);
}

/* Shows p; true when its status changed (or it is new). */
function upsertMigration(p) {
    if (!p.valid || !p.Id)
        return false;
    let entry = rows.get(p.path);
    if (!entry) {
        entry = { row: el("tr", { class: "migration", "data-path": p.path }), history: historyRow(p.path) };
        rows.set(p.path, entry);
        insertSorted($("migrations").tBodies[0], entry, p.CreatedUSec);
        renderHistory(p.path); /* the steps whose signal came before the object */
        loadHistory(p.path);
    }
    const changed = entry.row.dataset.status !== p.Status;
    Object.assign(entry.row.dataset, { id: p.Id, domain: p.DomainName, kind: p.Kind, status: p.Status });
    entry.row.replaceChildren(...migrationCells(p));
    $("migrations-empty").hidden = rows.size > 0;
    return changed;
}

function removeMigration(p) {
    const entry = rows.get(p.path);
    if (entry) {
        entry.row.remove();
        entry.history.remove();
        rows.delete(p.path);
    }
    $("migrations-empty").hidden = rows.size > 0;
}

/* ---- each migration's history: GetEvents once, then every EventAdded signal ---- */

function historyOf(path) {
    if (!histories.has(path))
        histories.set(path, { keys: new Set(), events: [] });
    return histories.get(path);
}

function addEvent(path, usec, status, message, origin) {
    const h = historyOf(path);
    const key = usec + "\n" + status + "\n" + message;
    if (h.keys.has(key))
        return false;
    h.keys.add(key);
    h.events.push({ usec, status, message, origin });
    return true;
}

function renderHistory(path) {
    const entry = rows.get(path);
    if (!entry)
        return;
    const h = historyOf(path);
    h.events.sort((a, b) => a.usec - b.usec);
    const items = h.events.map(e =>
        el("li", { "data-origin": e.origin, "data-status": e.status },
           el("time", {}, formatTime(e.usec)), " ", el("b", {}, e.status), " ", e.message));
    entry.history.querySelector("ol").replaceChildren(...items);
    const last = h.events[h.events.length - 1];
    entry.history.querySelector("summary").textContent =
        "History (" + h.events.length + ")" + (last ? ": " + last.message : "");
}

function loadHistory(path) {
    client.call(path, MIGRATION, "GetEvents", [])
            .then(([events]) => {
                for (const [usec, status, message] of events)
                    addEvent(path, usec, status, message, "loaded");
                renderHistory(path);
            })
            .catch(err => console.warn("GetEvents of", path, "failed:", err.message));
}

function onEventAdded(path, iface, signal, args) {
    const [usec, status, message] = args;
    if (addEvent(path, usec, status, message, "signal"))
        renderHistory(path);
}

/* ---- domains, nodes, evacuations: read on load, after each action and each ended step ---- */

function domainRow(d) {
    const name = val(d, "name", "");
    const node = val(d, "node", "");
    const group = val(d, "group", "");
    const policy = val(d, "group-policy", "");
    const state = val(d, "state", "") + (val(d, "task-state", "") ? " (" + val(d, "task-state") + ")" : "");
    return el("tr", { "data-domain": name, "data-node": node },
              el("td", {}, name), el("td", { class: "node" }, node), el("td", { class: "state" }, state),
              el("td", {}, formatBytes(val(d, "memory", 0))), el("td", {}, val(d, "vcpus", "")),
              el("td", {}, group ? group + " (" + policy + ")" : ""),
              el("td", { class: "actions" }, actionButton("Migrate\u2026", "migrate", () => openMigrate(name, node))));
}

function hostState(h) {
    if (val(h, "reachable", true) === false)
        return "unreachable";
    return val(h, "enabled", true) ? "enabled" : "disabled";
}

function hostActions(node, state) {
    const cell = el("td", { class: "actions" });
    if (state === "enabled")
        cell.append(actionButton("Disable\u2026", "host-disable", () => openDisable(node)));
    if (state === "disabled")
        cell.append(actionButton("Enable", "host-enable",
                                 b => act(b, "Enable " + node, "EnableHost", "sb", [node, false])));
    cell.append(actionButton("Evacuate\u2026", "evacuate", () => openEvacuate(node)));
    if (state === "disabled") /* enables it and brings back what its last evacuation moved */
        cell.append(actionButton("Restore", "restore",
                                 b => act(b, "Restore " + node, "Restore", "sa{sv}b", [node, {}, false])));
    return cell;
}

function hostRow(h) {
    const node = val(h, "node", "");
    const state = hostState(h);
    const reason = val(h, "disabled-reason", "") || (state === "unreachable" ? val(h, "error", "") : "");
    const mem = val(h, "memory-total", 0)
        ? formatBytes(val(h, "memory-free", 0)) + " of " + formatBytes(val(h, "memory-total", 0))
        : "";
    const vcpus = val(h, "vcpus", 0) ? val(h, "vcpus-used", 0) + " of " + val(h, "vcpus", 0) : "";
    return el("tr", { "data-node": node, "data-state": state },
              el("td", {}, node), el("td", { class: "state" }, state), el("td", { class: "reason" }, reason),
              el("td", {}, mem), el("td", {}, vcpus), el("td", {}, formatBytes(val(h, "disk-free", 0))),
              el("td", {}, val(h, "domains-running", "")), hostActions(node, state));
}

function evacuationActions(node, status) {
    const cell = el("td", { class: "actions" });
    const control = (label, action) =>
        cell.append(actionButton(label, "evacuation-" + action,
                                 b => act(b, label + " the evacuation of " + node, "ControlEvacuation", "ssb",
                                          [node, action, false])));
    if (status === "running")
        control("Pause", "pause");
    if (status === "paused")
        control("Resume", "resume");
    if (["planning", "running", "paused"].includes(status))
        control("Cancel", "cancel");
    return cell;
}

function evacuationRow(e) {
    const node = val(e, "node", "");
    const status = val(e, "status", "");
    const done = val(e, "done", 0) + " of " + val(e, "total", 0) +
        (val(e, "failed", 0) ? ", " + val(e, "failed", 0) + " failed" : "");
    return el("tr", { "data-node": node, "data-kind": val(e, "kind", ""), "data-status": status },
              el("td", {}, node), el("td", {}, val(e, "kind", "")), el("td", { class: "status" }, status),
              el("td", {}, done), el("td", {}, val(e, "message", "")), evacuationActions(node, status));
}

function fillTable(id, list, makeRow) {
    $(id).tBodies[0].replaceChildren(...list.map(makeRow));
    const empty = $(id + "-empty");
    if (empty)
        empty.hidden = list.length > 0;
}

function readList(method, id, makeRow, after) {
    return client.call(ROOT, MANAGER, method, [])
            .then(([list]) => {
                fillTable(id, list, makeRow);
                if (after)
                    after(list);
            })
            .catch(err => showError("Reading " + id, err));
}

/* An evacuation of another node is an object of that node's daemon, whose signals do not
 * reach this page: while one is under way, its row is read again every 2 s, and the whole
 * cluster once it ends. */
const EVACUATION_ENDED = ["completed", "cancelled", "failed"];
let evacuationTimer = null;

function followEvacuations(list) {
    const going = list.some(e => !EVACUATION_ENDED.includes(val(e, "status", "")));
    if (going && !evacuationTimer)
        evacuationTimer = window.setInterval(
            () => readList("ListEvacuations", "evacuations", evacuationRow, followEvacuations), 2000);
    if (!going && evacuationTimer) {
        window.clearInterval(evacuationTimer);
        evacuationTimer = null;
        refreshCluster();
    }
}

let refreshing = null;
let refreshAgain = false;

/* One refresh at a time; a request during one runs once more after it. */
function refreshCluster() {
    if (refreshing) {
        refreshAgain = true;
        return refreshing;
    }
    refreshing = Promise.all([
        readList("ListDomains", "domains", domainRow),
        readList("ListHosts", "nodes", hostRow),
        readList("ListEvacuations", "evacuations", evacuationRow, followEvacuations),
    ]).finally(() => {
        refreshing = null;
        if (refreshAgain) {
            refreshAgain = false;
            refreshCluster();
        }
    });
    return refreshing;
}

/* ---- dialogs ---- */

let migrateFor = null;

/* The Migrate/Plan options of the dialog (tuning only with tuning: Plan takes none). */
function kindOptions(kind, tuning) {
    const o = {};
    if (kind !== "cold")
        o.live = cockpit.variant("b", true);
    if (kind === "block")
        o["block-migration"] = cockpit.variant("b", true);
    if (kind === "cold" || !tuning)
        return o;
    const bandwidth = Number($("migrate-bandwidth").value);
    const downtime = Number($("migrate-downtime").value);
    if (bandwidth > 0)
        o.bandwidth = cockpit.variant("t", bandwidth);
    if (downtime > 0)
        o["max-downtime"] = cockpit.variant("t", downtime);
    if ($("migrate-postcopy").checked)
        o.postcopy = cockpit.variant("b", true);
    return o;
}

function showTuning() {
    $("migrate-tuning").hidden = $("migrate-kind").value === "cold";
}

function planRow(c) {
    const verdict = val(c, "verdict", "");
    return el("tr", { "data-node": val(c, "node", ""), "data-verdict": verdict, class: "verdict-" + verdict },
              el("td", {}, val(c, "node", "") + (val(c, "source", false) ? " (holds it)" : "")),
              el("td", {}, verdict), el("td", {}, val(c, "reason", "")));
}

function showPlan() {
    const kind = $("migrate-kind").value;
    const domain = migrateFor;
    $("migrate-plan-error").hidden = true;
    client.call(ROOT, MANAGER, "Plan", [domain, "", kindOptions(kind)], { type: "ssa{sv}" })
            .then(([nodes]) => {
                if (domain === migrateFor)
                    $("migrate-plan").tBodies[0].replaceChildren(...nodes.map(planRow));
            })
            .catch(err => {
                $("migrate-plan-error").textContent = err.message;
                $("migrate-plan-error").hidden = false;
            });
}

function openMigrate(domain, node) {
    migrateFor = domain;
    $("migrate-domain").textContent = domain + " (on " + node + ")";
    const select = $("migrate-destination");
    const nodes = [...$("nodes").tBodies[0].rows].map(r => r.dataset.node).filter(n => n !== node);
    select.replaceChildren(el("option", { value: "" }, "Let the scheduler choose"),
                           ...nodes.map(n => el("option", { value: n }, n)));
    $("migrate-plan").tBodies[0].replaceChildren();
    showTuning();
    $("migrate-dialog").showModal();
    showPlan();
}

function startMigrate(button) {
    const kind = $("migrate-kind").value;
    const dest = $("migrate-destination").value;
    act(button, "Migrate " + migrateFor, "Migrate", "ssa{sv}b", [migrateFor, dest, kindOptions(kind, true), false])
            .finally(() => $("migrate-dialog").close());
}

function openDisable(node) {
    $("disable-node").textContent = node;
    $("disable-reason").value = "";
    $("disable-dialog").showModal();
}

function startDisable(button) {
    const node = $("disable-node").textContent;
    const reason = $("disable-reason").value.trim() || "disabled from Cockpit";
    act(button, "Disable " + node, "DisableHost", "ssb", [node, reason, false])
            .finally(() => $("disable-dialog").close());
}

function openEvacuate(node) {
    $("evacuate-node").textContent = node;
    $("evacuate-dialog").showModal();
}

function startEvacuate(button) {
    const node = $("evacuate-node").textContent;
    const options = {
        live: cockpit.variant("b", $("evacuate-live").checked),
        "max-parallel": cockpit.variant("u", Number($("evacuate-parallel").value) || 1),
    };
    act(button, "Evacuate " + node, "Evacuate", "sa{sv}b", [node, options, false])
            .finally(() => $("evacuate-dialog").close());
}

/* ---- start ---- */

function watchAccess() {
    const permission = cockpit.permission({ admin: true });
    const show = () => {
        const state = permission.allowed === true ? "admin" : permission.allowed === false ? "limited" : "unknown";
        $("access").dataset.state = state;
        $("access").textContent = state === "admin" ? "Administrative access"
            : state === "limited" ? "Limited access: you can look, not act" : "";
    };
    permission.addEventListener("changed", show);
    show();
}

function watchMigrations() {
    client.subscribe({ interface: MIGRATION, member: "EventAdded" }, onEventAdded);
    const migrations = client.proxies(MIGRATION, ROOT);
    migrations.addEventListener("added", (ev, p) => upsertMigration(p));
    /* A new status may have moved a domain or changed a node's load. */
    migrations.addEventListener("changed", (ev, p) => {
        if (upsertMigration(p))
            refreshCluster();
    });
    migrations.addEventListener("removed", (ev, p) => removeMigration(p));
    migrations.wait(() => {
        for (const path of Object.keys(migrations))
            upsertMigration(migrations[path]);
        $("migrations-empty").hidden = rows.size > 0;
    });
    const evacuations = client.proxies(EVACUATION, ROOT);
    for (const kind of ["added", "changed", "removed"])
        evacuations.addEventListener(kind, () => refreshCluster());
}

function readManager() {
    const manager = client.proxy(MANAGER, ROOT);
    manager.wait(() => {
        $("node-name").textContent = manager.valid ? "on " + manager.NodeName : "";
        $("connection").textContent = manager.valid ? "migrated " + manager.Version : "migrated is not reachable";
        document.body.dataset.ready = manager.valid ? "yes" : "no";
    });
}

function bindButtons() {
    $("refresh").addEventListener("click", () => refreshCluster());
    $("alert-close").addEventListener("click", clearError);
    $("migrate-kind").addEventListener("change", () => {
        showTuning();
        showPlan();
    });
    $("migrate-start").addEventListener("click", ev => startMigrate(ev.target));
    $("migrate-cancel").addEventListener("click", () => $("migrate-dialog").close());
    $("disable-start").addEventListener("click", ev => startDisable(ev.target));
    $("disable-cancel").addEventListener("click", () => $("disable-dialog").close());
    $("evacuate-start").addEventListener("click", ev => startEvacuate(ev.target));
    $("evacuate-cancel").addEventListener("click", () => $("evacuate-dialog").close());
}

function main() {
    bindButtons();
    watchAccess();
    readManager();
    watchMigrations();
    client.addEventListener("owner", (ev, owner) => {
        if (owner)
            refreshCluster(); /* the daemon started again (D-Bus activation) */
    });
    refreshCluster();
}

main();
