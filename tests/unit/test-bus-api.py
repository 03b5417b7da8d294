#!/usr/bin/env python3
# The daemon on a private bus (no root needed): its live introspection matches
# dbus/*.xml, bad input gets InvalidArgument and changes nothing, and a SIGKILL
# loses no committed record. libvirt is the test:///default driver; polkit is
# not on this bus, so only checks that need no polkit are made here (the bench
# tests polkit for real).
import json, os, signal, subprocess, sys, tempfile, time
import xml.etree.ElementTree as ET

daemon, srcdir, hook = sys.argv[1], sys.argv[2], sys.argv[3]
tmp = tempfile.mkdtemp(prefix="migrated-busapi-")
bus_sock = os.path.join(tmp, "bus")
conf = os.path.join(tmp, "migrated.conf")
state = os.path.join(tmp, "state")
with open(conf, "w") as f:
    f.write("[Node]\nName=unit\nLibvirtURI=test:///default\n")

procs = []
def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["rm", "-rf", tmp])

failures = []
def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)

env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="unix:path=" + bus_sock)
bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--address=unix:path=" + bus_sock])
procs.append(bus)

def start_daemon():
    p = subprocess.Popen([daemon, "--user", "--config=" + conf, "--state-dir=" + state, "--idle-timeout=0"],
                         env=env)
    procs.append(p)
    for _ in range(100):
        if busctl("status", "org.example.Migrate1", quiet=True).returncode == 0:
            return p
        time.sleep(0.05)
    raise SystemExit("daemon did not appear on the bus")

def busctl(*args, quiet=False):
    return subprocess.run(["busctl", "--user", *args], env=env, capture_output=True, text=True)

def call(method, sig=None, *args, iface="org.example.Migrate1.Manager", path="/org/example/Migrate1"):
    cmd = ["--json=short", "call", "org.example.Migrate1", path, iface, method]
    if sig:
        cmd += [sig, *[str(a) for a in args]]
    r = busctl(*cmd)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None), r.stderr

def error_of(method, *gvariant_args, iface="org.example.Migrate1.Manager"):
    """Calls a method with gdbus (GVariant text arguments) and returns the
    D-Bus error name ('' on success) and message."""
    r = subprocess.run(["gdbus", "call", "--session", "--dest", "org.example.Migrate1", "--object-path",
                        "/org/example/Migrate1", "--method", iface + "." + method,
                        *gvariant_args], env=env, capture_output=True, text=True)
    if r.returncode == 0:
        return "", ""
    text = r.stderr.split("GDBus.Error:", 1)[-1]
    name, _, message = text.partition(": ")
    return name.strip(), message.strip()

def interfaces_of(xml_text):
    out = {}
    for iface in ET.fromstring(xml_text).findall("interface"):
        name = iface.get("name")
        if not name.startswith("org.example."):
            continue
        methods = {m.get("name"): [(a.get("name"), a.get("type"), a.get("direction", "in"))
                                   for a in m.findall("arg")] for m in iface.findall("method")}
        props = {p.get("name"): (p.get("type"), p.get("access")) for p in iface.findall("property")}
        signals = {s.get("name"): [(a.get("name"), a.get("type")) for a in s.findall("arg")]
                   for s in iface.findall("signal")}
        out[name] = (methods, props, signals)
    return out

def contract(name):
    with open(os.path.join(srcdir, "dbus", name + ".xml")) as f:
        return interfaces_of(f.read())

def live(path):
    r = busctl("introspect", "--xml-interface", "org.example.Migrate1", path)
    return interfaces_of(r.stdout)

try:
    for _ in range(100):
        if os.path.exists(bus_sock):
            break
        time.sleep(0.05)
    d = start_daemon()

    # 1. The contract: dbus/*.xml equals what the daemon exposes.
    root = live("/org/example/Migrate1")
    for iface in ("org.example.Migrate1.Manager", "org.example.Migrate1.Peer", "org.example.Migrate1.Hook"):
        check(root.get(iface) == contract(iface).get(iface), iface + " matches dbus/" + iface + ".xml")

    # 2. Bad input: InvalidArgument, nothing recorded.
    empty = "@a{sv} {}"
    bad = [
        ("Migrate", "''", "''", empty, "false"),
        ("Migrate", "'a;reboot'", "''", empty, "false"),
        ("Migrate", "'" + "x" * 201 + "'", "''", empty, "false"),
        ("Migrate", "'$(id)'", "''", empty, "false"),
        ("Migrate", "'../../etc/passwd'", "''", empty, "false"),
        ("Migrate", "'test'", "'nosuchnode'", empty, "false"),
        ("Migrate", "'test'", "'unit'", empty, "false"),
        ("Migrate", "'test'", "''", "{'colour': <'blue'>}", "false"),
        ("Migrate", "'test'", "''", "{'live': <'yes'>}", "false"),
        ("Migrate", "'test'", "''", "{'block-migration': <true>}", "false"),
        ("DisableHost", "'unit'", "''", "false"),
        ("DisableHost", "'-oProxyCommand=x'", "'r'", "false"),
        ("EnableHost", "'nosuchnode'", "false"),
        ("SetGroup", "'test'", "'web'", "'sometimes'", "false"),
        ("SetGroup", "'test'", "'a b'", "'affinity'", "false"),
        ("ClearGroup", "'a|b'", "false"),
        ("ListMigrations", "{'colour': <'x'>}"),
        ("ListMigrations", "{'status': <'dancing'>}"),
        ("Evacuate", "'nosuchnode'", empty, "false"),
        ("Confirm", "'a b'", "false"),
        ("DescribeDomain", "'`reboot`'"),
        ("GetMigration", "'ZZZ;'"),
    ]
    for method, *args in bad:
        name, message = error_of(method, *args)
        check(name == "org.example.Migrate1.Error.InvalidArgument" and len(message) > 10,
              "%s(%s) refused: %s: %s" % (method, ", ".join(a[:20] for a in args), name, message))
    rc, out, _ = call("ListMigrations", "a{sv}", 0)
    check(rc == 0 and out["data"][0] == [], "nothing was recorded by refused calls")

    # 3. A refusal that is recorded (no engine yet) and committed state survive SIGKILL.
    # test:///default's domain has a disk file that does not exist: refused before anything is
    # recorded (one outside ImageDirectory that exists goes to the destination, which takes it
    # only on storage it shares with this node: tests/cluster/test-shared-storage.sh).
    name, message = error_of("Migrate", "'test'", "''", empty, "false")
    check(name == "org.example.Migrate1.Error.NotFound" and "/guest/diskimage1" in message,
          "cold migrate of a missing disk file is refused: " + message)
    rc, dom, _ = call("DescribeDomain", "s", "test")
    check(rc == 0 and dom["data"][0]["state"]["data"] == "ACTIVE", "the domain still runs on this node")
    name, message = error_of("Migrate", "'test'", "''", "{'live': <true>}", "false")
    check(name == "org.example.Migrate1.Error.NotFound" and "/guest/diskimage1" in message,
          "live migrate of a missing disk file is refused: " + message)
    name, message = error_of("Migrate", "'test'", "''", "{'bandwidth': <@t 10>}", "false")
    check(name == "org.example.Migrate1.Error.InvalidArgument", "bandwidth without live is refused: " + message)
    name, message = error_of("Migrate", "'test'", "''", "{'live': <true>, 'bandwidth': <10>}", "false")
    check(name == "org.example.Migrate1.Error.InvalidArgument", "bandwidth of the wrong type is refused: " + message)
    name, message = error_of("Migrate", "'nosuchdomain'", "''", empty, "false")
    check(name == "org.example.Migrate1.Error.NotFound", "migrate of an unknown domain: " + message)
    rc, out, _ = call("DisableHost", "ssb", "unit", "kernel upgrade", "false")
    check(rc == 0, "DisableHost of this node")
    rc, out, _ = call("ListMigrations", "a{sv}", 0)
    before = out["data"][0]
    check(len(before) == 0, "refused migrations leave no record")

    d.send_signal(signal.SIGKILL)
    d.wait()
    # 4. Hook events while the daemon is down go to the spool (the hook never reaches
    # this private bus: it only talks to the system bus) and are recorded at start.
    test_xml = "<domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>"
    hook_env = dict(os.environ, MIGRATED_STATE_DIR=state)
    for op in ("stopped", "start"):
        r = subprocess.run([hook, "test", op, "begin", "-"], input=test_xml, text=True, env=hook_env)
        check(r.returncode == 0, "the hook exits 0 for '%s' with no daemon" % op)
    check(os.path.getsize(os.path.join(state, "hook-spool")) > 0, "the hook spooled its events")
    d = start_daemon()
    rc, dom, _ = call("DescribeDomain", "s", "test")
    ops = [e["operation"]["data"] for e in dom["data"][0]["events"]["data"]] if rc == 0 else []
    check(ops[-2:] == ["stopped", "start"], "the spooled events are the domain's events: %s" % ops)
    check(not os.path.exists(os.path.join(state, "hook-spool")) and
          not os.path.exists(os.path.join(state, "hook-spool.draining")), "the spool is gone once recorded")
    # XML over the hook's bound: not cut and half-read, said in a sentence; the event is still
    # kept (spooled: the hook never reaches this private bus), without the UUID it could not read.
    huge = test_xml.replace("</domain>", "<description>" + "x" * (5 << 20) + "</description></domain>")
    r = subprocess.run([hook, "test", "stopped", "end", "-"], input=huge, text=True, env=hook_env,
                       capture_output=True)
    check(r.returncode == 0 and "exceeds 4 MiB" in r.stderr,
          "the hook says the XML on stdin is too large and still exits 0: %r" % r.stderr[:200])
    time.sleep(0.5)  # delivered to the daemon, or spooled and drained
    rc, dom, _ = call("DescribeDomain", "s", "test")
    msgs = [e["message"]["data"] for e in dom["data"][0]["events"]["data"]] if rc == 0 else []
    check(any("exceeds 4 MiB" in m for m in msgs), "the event is kept with that sentence: %s" % msgs[-2:])
    # 5. Hook.ReportEvent: root only; each event id recorded once; bad input refused.
    def report(eid, op, uuid="6695eb01-f6a4-8304-79aa-97f2502e193f"):
        return error_of("ReportEvent", "'%s'" % eid, "@t %d" % int(time.time() * 1e6), "'test'", "'%s'" % uuid,
                        "'%s'" % op, "'begin'", "'-'", "''", iface="org.example.Migrate1.Hook")
    eid = "0123456789abcdef0123456789abcdef"
    name, message = report(eid, "reconnect")
    if os.geteuid() == 0:
        check(name == "", "ReportEvent from root is recorded: " + message)
        check(report(eid, "reconnect")[0] == "", "the same event again is accepted")
        rc, dom, _ = call("DescribeDomain", "s", "test")
        ops = [e["operation"]["data"] for e in dom["data"][0]["events"]["data"]] if rc == 0 else []
        check(ops.count("reconnect") == 1, "... and recorded once: %s" % ops)
        for bad_id, bad_op, bad_uuid in (("xyz", "start", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
                                         (eid, "Start;rm", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
                                         (eid, "start", "not-a-uuid")):
            name, message = report(bad_id, bad_op, bad_uuid)
            check(name == "org.example.Migrate1.Error.InvalidArgument",
                  "ReportEvent(%s, %s, %s) is refused: %s" % (bad_id, bad_op, bad_uuid, message))
    else:
        check(name == "org.freedesktop.DBus.Error.AccessDenied", "ReportEvent is for root only: " + message)
    rc, out, _ = call("ListMigrations", "a{sv}", 0)
    check(rc == 0 and out["data"][0] == before, "after SIGKILL every committed migration is back, unchanged")
    rc, out, _ = call("ListHosts")
    host = out["data"][0][0]
    check(host["enabled"]["data"] is False and host["disabled-reason"]["data"] == "kernel upgrade",
          "after SIGKILL the node is still disabled with its reason")
    name, message = error_of("GetMigration", "'test'")
    check(name == "org.example.Migrate1.Error.NotFound", "GetMigration of a domain never migrated: " + message)
    name, message = error_of("Confirm", "'test'", "false")
    check(name == "org.example.Migrate1.Error.NotFound", "confirm without a migration: " + message)
    name, message = error_of("Revert", "'nosuchdomain'", "false")
    check(name == "org.example.Migrate1.Error.NotFound", "revert of an unknown domain: " + message)
    name, message = error_of("Abort", "'test'", "false")
    check(name == "org.example.Migrate1.Error.NotFound", "abort with nothing in flight: " + message)

    # 6. Evacuation of a node with no peers: the plan says why the domain fits nowhere; a dry
    # run records nothing; a real one is stored, on the bus as dbus/ says, and outlives SIGKILL.
    for args, what in ((("'unit'", "{'max-parallel': <@u 100>}", "false"), "max-parallel 100"),
                       (("'unit'", "{'bandwidth': <@t 5>}", "false"), "bandwidth without live"),
                       (("'nosuchnode'", empty, "false"), "an unknown node")):
        name, message = error_of("Evacuate", *args)
        check(name == "org.example.Migrate1.Error.InvalidArgument", "Evacuate with %s: %s" % (what, message))
    name, message = error_of("ControlEvacuation", "'unit'", "'explode'", "false")
    check(name == "org.example.Migrate1.Error.InvalidArgument", "ControlEvacuation 'explode': " + message)
    rc, out, _ = call("Evacuate", "sa{sv}b", "unit", 1, "dry-run", "b", "true", "false")
    plan = out["data"][0] if rc == 0 else {}
    items = plan.get("items", {}).get("data", [])
    check(rc == 0 and plan["dry-run"]["data"] is True and len(items) == 1 and
          items[0]["status"]["data"] == "failed" and "no valid host" in items[0]["error"]["data"],
          "a dry run plans 'test' and says it fits nowhere: %s" % (items[0]["error"]["data"] if items else out))
    rc, out, _ = call("ListEvacuations")
    check(rc == 0 and out["data"][0] == [], "a dry run records nothing")
    name, message = error_of("GetEvacuation", "'unit'")
    check(name == "org.example.Migrate1.Error.NotFound", "GetEvacuation before any: " + message)
    if os.geteuid() == 0:
        rc, out, _ = call("Evacuate", "sa{sv}b", "unit", 0, "false")
        evac = out["data"][0] if rc == 0 else {}
        check(rc == 0 and "object" in evac, "Evacuate of this node starts: %s" % evac.get("message"))
        for _ in range(50):
            rc, out, _ = call("GetEvacuation", "s", "unit")
            if rc == 0 and out["data"][0]["status"]["data"] == "completed":
                break
            time.sleep(0.1)
        got = out["data"][0] if rc == 0 else {}
        check(got.get("status", {}).get("data") == "completed" and got["failed"]["data"] == 1,
              "it ends completed, the domain failed with why")
        path = evac["object"]["data"] if "object" in evac else "/"
        check(live(path).get("org.example.Migrate1.Evacuation") ==
              contract("org.example.Migrate1.Evacuation").get("org.example.Migrate1.Evacuation"),
              "the Evacuation object matches dbus/org.example.Migrate1.Evacuation.xml")
        name, message = error_of("ControlEvacuation", "'unit'", "'pause'", "false")
        check(name == "org.example.Migrate1.Error.Conflict", "pause of an ended evacuation: " + message)
        d.send_signal(signal.SIGKILL)
        d.wait()
        d = start_daemon()
        rc, out, _ = call("GetEvacuation", "s", "unit")
        check(rc == 0 and out["data"][0]["id"]["data"] == evac["id"]["data"] and
              out["data"][0]["status"]["data"] == "completed", "after SIGKILL the evacuation is still there")
        rc, out, _ = call("Restore", "sa{sv}b", "unit", 0, "false")
        check(rc == 0 and out["data"][0]["kind"]["data"] == "restore", "Restore of this node starts")
finally:
    cleanup()

print("%d checks failed" % len(failures) if failures else "all checks passed")
sys.exit(1 if failures else 0)
