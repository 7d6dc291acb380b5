#!/usr/bin/env python3
"""Packaging: scripts/install.sh --destdir, the systemd unit, the hugepage
script and the Grafana dashboard (docs/install.md).

Usage: packaging_test.py MESON_BUILD_ROOT

- install.sh installs the configured build (no rebuild) into a temporary
  DESTDIR: programs executable, unit and data files 0644, the hugepage script
  0755, the dashboard, the live config 0640; the unit's paths follow the
  build's prefix; a second run keeps an operator's edited config;
- the unit (with the dpdk drop-in) passes `systemd-analyze verify`, and
  nothing the relay loads asks for an executable stack, which
  MemoryDenyWriteExecute=yes would refuse;
- setup-hugepages.sh: --dry-run changes nothing, it raises the reservation
  and never lowers it, bad input is refused with a reason;
- the Grafana JSON parses, takes its data source from ${DS_PROMETHEUS}, its
  PromQL passes promtool, and every metric and label it names is on the
  /metrics page of the installed daemon, started on free loopback ports;
  that daemon also serves the installed dashboard page.
Prints one line per check; exits 1 if any failed, 77 if meson is missing.
"""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
import harness as h  # noqa: E402

PROGRAMS = ("sigrelay", "sigrelayctl", "sigrelay-inspect", "sigrelay-sim", "sigrelay-blast")
# What the dashboard must show (the issue): calls, responses, service latency,
# upstream connections, whitelist denials, fail-open, alarms.
DASHBOARD_METRICS = {"sigrelay_invites_in_total", "sigrelay_switch_responses_total",
                     "sigrelay_service_rtt_seconds_bucket", "sigrelay_upstream_connections_up",
                     "sigrelay_acl_denied_total", "sigrelay_local_503_timeout_total",
                     "sigrelay_local_503_no_upstream_total", "sigrelay_alarm_active"}
# Labels Prometheus adds to what it scrapes, and the histogram bucket label.
SCRAPE_LABELS = {"instance", "job", "le"}


def run(argv, env=None, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def build_paths(build):
    """Absolute prefix, bindir, datadir, sysconfdir of the build."""
    r = run(["meson", "introspect", "--buildoptions", build])
    if r.returncode != 0:
        raise RuntimeError(f"meson introspect: {r.stderr.strip()}")
    o = {x["name"]: x["value"] for x in json.loads(r.stdout)}
    p = o["prefix"]
    return {"prefix": p, "bindir": os.path.join(p, o["bindir"]), "datadir": os.path.join(p, o["datadir"]),
            "sysconfdir": os.path.join(p, o["sysconfdir"])}


def unit_settings(text):
    """key -> list of values of a unit file, comments and sections dropped."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        k, _, v = line.partition("=")
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def check_install(c, ws, build, paths):
    dest = ws.path("destdir")
    install = os.path.join(SOURCE, "scripts", "install.sh")
    argv = ["bash", install, "--destdir", dest, "--builddir", build, "--no-build"]
    r = run(argv, timeout=300)
    c.check("install.sh --destdir --builddir --no-build succeeds", r.returncode == 0,
            (r.stdout + r.stderr)[-800:])
    if r.returncode != 0:
        return None

    def d(path):
        return dest + path
    bindir, data = d(paths["bindir"]), d(os.path.join(paths["datadir"], "sigrelay"))
    for prog in PROGRAMS:
        p = os.path.join(bindir, prog)
        ok = os.path.isfile(p) and mode_of(p) & 0o111 == 0o111 and mode_of(p) & 0o022 == 0
        c.check(f"{paths['bindir']}/{prog}: executable by all, writable by root only", ok,
                oct(mode_of(p)) if os.path.exists(p) else "missing")
    unit = d(os.path.join(paths["prefix"], "lib", "systemd", "system", "sigrelay.service"))
    expect_modes = {unit: 0o644,
                    os.path.join(data, "sigrelay-dpdk.conf"): 0o644,
                    os.path.join(data, "grafana-sigrelay.json"): 0o644,
                    os.path.join(data, "sigrelay.conf"): 0o644,
                    os.path.join(data, "setup-hugepages.sh"): 0o755,
                    d(os.path.join(paths["sysconfdir"], "sigrelay", "sigrelay.conf")): 0o640}
    for p, want in expect_modes.items():
        got = mode_of(p) if os.path.isfile(p) else None
        c.check(f"{p[len(dest):]}: mode {want:o}", got == want, "missing" if got is None else f"{got:o}")
    src_dash = os.path.join(SOURCE, "control", "dashboard")
    want_dash = sorted(os.listdir(src_dash))
    dash = os.path.join(data, "dashboard")
    got_dash = sorted(os.listdir(dash)) if os.path.isdir(dash) else []
    same = got_dash == want_dash and all(
        open(os.path.join(dash, f), "rb").read() == open(os.path.join(src_dash, f), "rb").read() for f in want_dash)
    c.check("dashboard: every file of control/dashboard, index.html included, installed as it is",
            same and "index.html" in got_dash, (got_dash, want_dash))
    live = d(os.path.join(paths["sysconfdir"], "sigrelay", "sigrelay.conf"))
    ref = open(os.path.join(SOURCE, "conf", "sigrelay.conf")).read()
    c.check("the live config is the reference conf/sigrelay.conf",
            os.path.isfile(live) and open(live).read() == ref)
    logs = d("/var/log/sigrelay")
    c.check("/var/log/sigrelay: a directory, mode 750", os.path.isdir(logs) and mode_of(logs) == 0o750)

    # The unit: what the issue asks for, with this build's paths.
    text = open(unit).read() if os.path.isfile(unit) else ""
    s = unit_settings(text)
    conf = os.path.join(paths["sysconfdir"], "sigrelay", "sigrelay.conf")
    exe = os.path.join(paths["bindir"], "sigrelay")
    c.check("unit: ExecStart runs this prefix's sigrelay with this sysconfdir's config",
            s.get("ExecStart") == [f"{exe} --config {conf}"], s.get("ExecStart"))
    c.check("unit: reload is SIGHUP to the main process, after a config check",
            s.get("ExecReload", [""])[-1] == "/bin/kill -HUP $MAINPID" and
            s.get("ExecReload", [""])[0].endswith("--check-config"), s.get("ExecReload"))
    c.check("unit: starts at boot and restarts on failure",
            s.get("WantedBy") == ["multi-user.target"] and s.get("Restart") == ["on-failure"])
    c.check("unit: runs as sigrelay with only CAP_NET_BIND_SERVICE",
            s.get("User") == ["sigrelay"] and s.get("AmbientCapabilities") == ["CAP_NET_BIND_SERVICE"] and
            s.get("CapabilityBoundingSet") == ["CAP_NET_BIND_SERVICE"])
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                 "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
                 "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
                 "RuntimeDirectory": "sigrelay", "RuntimeDirectoryMode": "0750", "LogsDirectory": "sigrelay"}
    missing = {k: s.get(k) for k, v in hardening.items() if s.get(k) != [v]}
    c.check("unit: hardening settings present", not missing, missing)
    c.check("unit: the daemon is told where this prefix's dashboard is",
            s.get("Environment") == [f"SIGRELAY_DASHBOARD_DIR={paths['datadir']}/sigrelay/dashboard"],
            s.get("Environment"))
    dropin = open(os.path.join(data, "sigrelay-dpdk.conf")).read()
    ds = unit_settings(dropin)
    c.check("dpdk drop-in: hugepage script first (outside the sandbox), root, unlimited locked memory",
            ds.get("ExecStartPre", [""])[0] == f"+{paths['datadir']}/sigrelay/setup-hugepages.sh" and
            ds.get("User") == ["root"] and ds.get("LimitMEMLOCK") == ["infinity"], ds)

    # Again, as an upgrade would: the operator's config stays, --dpdk adds the drop-in.
    with open(live, "a") as f:
        f.write("# edited by the operator\n")
    r = run(argv + ["--dpdk"], timeout=300)
    c.check("install.sh a second time (with --dpdk) succeeds", r.returncode == 0, (r.stdout + r.stderr)[-800:])
    c.check("a second install keeps the operator's config",
            open(live).read() == ref + "# edited by the operator\n" and "kept the existing" in r.stdout, r.stdout)
    c.check("a second install refreshes the reference copy",
            open(os.path.join(data, "sigrelay.conf")).read() == ref)
    placed = d("/etc/systemd/system/sigrelay.service.d/dpdk.conf")
    c.check("--dpdk: drop-in in /etc/systemd/system/sigrelay.service.d/",
            os.path.isfile(placed) and open(placed).read() == dropin)
    return {"dest": dest, "unit": unit, "dropin": os.path.join(data, "sigrelay-dpdk.conf"),
            "bindir": bindir, "data": data, "live": live}


def check_systemd(c, ws, paths, inst):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("note: systemd-analyze is not installed: the unit is not verified (package systemd)")
        return
    # verify checks that ExecStart's programs exist: point the unit at the
    # DESTDIR copies. The drop-in beside it in NAME.service.d/ is read too.
    dest = inst["dest"]
    units = ws.path("units")
    os.makedirs(os.path.join(units, "sigrelay.service.d"))

    def to_dest(text):
        for key in ("bindir", "datadir", "sysconfdir"):
            text = text.replace(paths[key] + "/", dest + paths[key] + "/")
        return text
    with open(os.path.join(units, "sigrelay.service"), "w") as f:
        f.write(to_dest(open(inst["unit"]).read()))
    with open(os.path.join(units, "sigrelay.service.d", "dpdk.conf"), "w") as f:
        f.write(to_dest(open(inst["dropin"]).read()))
    r = run([analyze, "verify", os.path.join(units, "sigrelay.service")])
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "sigrelay" in line or "dpdk.conf" in line]
    c.check("systemd-analyze verify: the unit and the dpdk drop-in, no complaint",
            r.returncode == 0 and not ours, (r.stdout + r.stderr)[-600:])


def check_no_exec_stack(c, inst):
    readelf = shutil.which("readelf")
    if readelf is None:
        print("note: readelf is not installed (binutils): executable-stack check skipped")
        return
    exe = os.path.join(inst["bindir"], "sigrelay")
    objects = [os.path.join(inst["bindir"], p) for p in PROGRAMS]
    r = run(["ldd", exe])
    objects += re.findall(r"=> (/\S+)", r.stdout)
    wants_exec = []
    for o in objects:
        out = run([readelf, "-lW", o]).stdout
        m = re.search(r"GNU_STACK(?:\s+\S+){5}\s+(\S+)", out)
        if m is None or "E" in m.group(1):
            wants_exec.append(os.path.basename(o))
    c.check(f"no program or library of sigrelay needs an executable stack ({len(objects)} checked)",
            not wants_exec and len(objects) > len(PROGRAMS), wants_exec)


def check_hugepages(c, ws, inst):
    script = os.path.join(inst["data"], "setup-hugepages.sh")
    knob_dir = ws.path("sys", "kernel", "mm", "hugepages", "hugepages-2048kB")
    os.makedirs(knob_dir)
    knob = os.path.join(knob_dir, "nr_hugepages")

    def set_knob(n):
        with open(knob, "w") as f:
            f.write(f"{n}\n")

    def knob_value():
        return int(open(knob).read())

    def hp(*args, **env):
        return run(["bash", script, *args], env={"SIGRELAY_SYSFS": ws.path("sys"), **env})
    set_knob(0)
    r = hp("--dry-run")
    c.check("hugepages --dry-run: says it would reserve the default 512 and changes nothing",
            r.returncode == 0 and "would raise" in r.stdout and "512" in r.stdout and knob_value() == 0,
            (r.stdout, r.stderr, knob_value()))
    r = hp(SIGRELAY_HUGEPAGES="64")
    c.check("hugepages: reserves SIGRELAY_HUGEPAGES pages", r.returncode == 0 and knob_value() == 64,
            (r.stdout, r.stderr, knob_value()))
    r = hp(SIGRELAY_HUGEPAGES="64")
    c.check("hugepages: a second run has nothing to do",
            r.returncode == 0 and "nothing to do" in r.stdout and knob_value() == 64, (r.stdout, r.stderr))
    set_knob(1024)
    r = hp(SIGRELAY_HUGEPAGES="512")
    c.check("hugepages: never lowers a larger reservation", r.returncode == 0 and knob_value() == 1024,
            (r.stdout, r.stderr, knob_value()))
    r = hp(SIGRELAY_HUGEPAGES="0")
    c.check("hugepages: 0 (EAL with --no-huge) is nothing to do", r.returncode == 0 and knob_value() == 1024)
    r = hp(SIGRELAY_HUGEPAGES="lots")
    c.check("hugepages: a count that is not a number is refused, naming it",
            r.returncode != 0 and "lots" in r.stderr and knob_value() == 1024, (r.returncode, r.stderr))
    r = run(["bash", script], env={"SIGRELAY_SYSFS": ws.path("nowhere")})
    c.check("hugepages: a kernel without 2 MB pages is a clear error",
            r.returncode != 0 and "no 2 MB hugepage support" in r.stderr, (r.returncode, r.stderr))
    real = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
    if os.path.exists(real):
        before = open(real).read()
        r = run(["bash", script, "--dry-run"])
        c.check("hugepages --dry-run on this host's /sys: succeeds and changes nothing",
                r.returncode == 0 and open(real).read() == before and r.stdout.startswith("setup-hugepages:"),
                (r.stdout, r.stderr))
    else:
        print("note: this kernel has no 2 MB hugepages: dry run on /sys skipped")


def promql_names(exprs):
    """Metric names and label names the expressions use."""
    metrics, labels = set(), set()
    for e in exprs:
        metrics |= set(re.findall(r"\b(sigrelay_[a-zA-Z0-9_:]+)", e))
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
            labels |= {x.strip() for x in group.split(",") if x.strip()}
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"", e))
        for m in re.finditer(r"label_values\(\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)", e):
            labels.add(m.group(1))
    return metrics, labels


def check_grafana(c, ws, inst):
    path = os.path.join(inst["data"], "grafana-sigrelay.json")
    try:
        dash = json.load(open(path))
    except ValueError as e:
        c.check("grafana-sigrelay.json parses as JSON", False, str(e))
        return None
    c.check("grafana: a dashboard of schema 36 or later with a title and uid",
            isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 36 and
            dash.get("title") and dash.get("uid"))
    inputs = [i for i in dash.get("__inputs", []) if i.get("name") == "DS_PROMETHEUS"]
    c.check("grafana: asks for a Prometheus data source as the DS_PROMETHEUS input",
            len(inputs) == 1 and inputs[0].get("pluginId") == "prometheus" and inputs[0].get("type") == "datasource")
    panels = dash.get("panels", [])
    targets = [t for p in panels for t in p.get("targets", [])]
    ds_ok = all(x.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}" for x in panels + targets)
    variables = dash.get("templating", {}).get("list", [])
    ds_ok = ds_ok and all(v.get("datasource", {}).get("uid") == "${DS_PROMETHEUS}" for v in variables
                          if v.get("type") == "query")
    c.check("grafana: every panel, query and variable uses ${DS_PROMETHEUS}", bool(panels) and ds_ok)
    ids = [p.get("id") for p in panels]
    c.check("grafana: panel ids unique, every panel placed on the grid",
            len(set(ids)) == len(ids) and all({"x", "y", "w", "h"} <= set(p.get("gridPos", {})) for p in panels))
    exprs = [t.get("expr", "") for t in targets]
    c.check("grafana: every query has an expression", exprs and all(exprs))
    var_queries = [v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
                   for v in variables if v.get("type") == "query"]
    metrics, labels = promql_names(exprs + var_queries)
    c.check("grafana: shows calls, responses, service latency, upstream, denials, fail-open and alarms",
            DASHBOARD_METRICS <= metrics, sorted(DASHBOARD_METRICS - metrics))

    promtool = shutil.which("promtool")
    if promtool is None:
        print("note: promtool is not installed (package prometheus): PromQL syntax not checked")
    else:
        # Grafana's variables as Prometheus would see them after substitution.
        rules = {"groups": [{"name": "grafana", "rules": [
            {"record": f"grafana:query{i}", "expr": e.replace("$__rate_interval", "1m").replace("$instance", ".*")}
            for i, e in enumerate(exprs)]}]}
        rules_path = ws.write("rules.json", json.dumps(rules))
        r = run([promtool, "check", "rules", rules_path])
        c.check(f"grafana: all {len(exprs)} PromQL expressions parse (promtool check rules)",
                r.returncode == 0, (r.stdout + r.stderr)[-600:])
    return metrics, labels


def send_invite(port):
    """One INVITE over UDP from 127.0.0.1; the final status code, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        msg = (f"INVITE sip:13125550100@127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-packaging-1\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:switch@127.0.0.1>;tag=pk1\r\n"
               "To: <sip:13125550100@127.0.0.1>\r\n"
               "Call-ID: packaging-1@127.0.0.1\r\n"
               "CSeq: 1 INVITE\r\n"
               f"Contact: <sip:switch@127.0.0.1:{lport}>\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        s.sendto(msg, ("127.0.0.1", port))
        deadline = time.monotonic() + h.WAIT
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65536).decode(errors="replace")
            except socket.timeout:
                return None
            m = re.match(r"SIP/2\.0 (\d{3}) ", data)
            if m and int(m.group(1)) >= 200:
                return int(m.group(1))
        return None
    finally:
        s.close()


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def check_live(c, ws, inst, used):
    """The installed daemon: its /metrics carries what the dashboard asks for."""
    exe = os.path.join(inst["bindir"], "sigrelay")
    r = run([exe, "--config", inst["live"], "--check-config"])
    c.check("the installed daemon accepts the installed config (--check-config)", r.returncode == 0,
            r.stderr[-400:])
    # Nobody listens on the upstream port: the INVITE is answered 503 at once
    # (fail-open), so the response counters have a sample.
    upstream = h.free_port("tcp")
    os.environ["SIGRELAY_DASHBOARD_DIR"] = os.path.join(inst["data"], "dashboard")
    relay = h.Relay(ws, exe, "installed", {"upstream.uri": f"sip:127.0.0.1:{upstream};transport=tcp"})
    status = send_invite(relay.ports["udp"])
    c.check("the installed daemon answers an INVITE with no service up: 503", status == 503, status)
    base = "http://" + relay.keys["stats.http"]
    text = scrape(base + "/metrics")
    names, labels = set(), set()
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s", line)
        if m and not line.startswith("#"):
            names.add(m.group(1))
            labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", m.group(2) or ""))
    metrics, expr_labels = used
    c.check(f"grafana: all {len(metrics)} metric names it queries are on the daemon's /metrics",
            metrics and metrics <= names, sorted(metrics - names))
    c.check("grafana: every label it groups or filters by is on /metrics (or added by Prometheus)",
            expr_labels <= labels | SCRAPE_LABELS, sorted(expr_labels - labels - SCRAPE_LABELS))
    page = scrape(base + "/")
    index = open(os.path.join(inst["data"], "dashboard", "index.html")).read()
    c.check("the installed daemon serves the installed dashboard page", page == index, page[:200])
    c.check("the installed daemon stops cleanly", relay.stop() == 0, relay.stderr_text()[-300:])


def main(argv):
    h.install_sigterm_handler()
    if len(argv) != 2:
        print(f"usage: {os.path.basename(argv[0])} MESON_BUILD_ROOT", file=sys.stderr)
        sys.exit(2)
    build = os.path.abspath(argv[1])
    h.require_tools(meson=("meson",), bash=("bash",))
    for prog in ("control/sigrelay", "control/sigrelayctl", "sim/sigrelay-sim"):
        h.require_binary(os.path.join(build, prog), prog)
    c = h.Checks("packaging: install.sh, unit, hugepages, Grafana dashboard")
    for script in ("install.sh", "setup-hugepages.sh"):
        r = run(["bash", "-n", os.path.join(SOURCE, "scripts", script)])
        c.check(f"bash -n scripts/{script}", r.returncode == 0, r.stderr)
    ws = h.Workspace(prefix="sigrelay-pkg-")
    try:
        paths = build_paths(build)
        inst = check_install(c, ws, build, paths)
        if inst is not None:
            check_systemd(c, ws, paths, inst)
            check_no_exec_stack(c, inst)
            check_hugepages(c, ws, inst)
            used = check_grafana(c, ws, inst)
            if used is not None:
                check_live(c, ws, inst, used)
    except (TimeoutError, RuntimeError, EOFError, OSError, ValueError, subprocess.SubprocessError) as e:
        c.check(f"harness ({type(e).__name__})", False, str(e))
    finally:
        ws.close()
    sys.exit(c.finish())


if __name__ == "__main__":
    main(sys.argv)
