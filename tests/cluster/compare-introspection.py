#!/usr/bin/env python3
# compare-introspection.py CONTRACT.xml INTERFACE < live-introspection.xml
# Exit 0 when the interface's methods (with argument names, types, directions), properties
# (types, access) and signals (argument names, types) are the same in the contract and in what
# the daemon exposes.
import sys
import xml.etree.ElementTree as ET

def shape(text, name):
    for iface in ET.fromstring(text).findall("interface"):
        if iface.get("name") == name:
            methods = {m.get("name"): [(a.get("name"), a.get("type"), a.get("direction", "in"))
                                       for a in m.findall("arg")] for m in iface.findall("method")}
            props = {p.get("name"): (p.get("type"), p.get("access")) for p in iface.findall("property")}
            signals = {s.get("name"): [(a.get("name"), a.get("type")) for a in s.findall("arg")]
                       for s in iface.findall("signal")}
            return methods, props, signals
    return None

contract = shape(open(sys.argv[1]).read(), sys.argv[2])
live = shape(sys.stdin.read(), sys.argv[2])
if contract != live:
    print("contract:", contract, "\nlive:    ", live, file=sys.stderr)
    sys.exit(1)
