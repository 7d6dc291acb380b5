#!/usr/bin/env python3
"""Hot reload (SIGHUP) while calls are in flight: nothing is dropped.

Usage: reload_test.py PATH/TO/sigrelay PATH/TO/sigrelay-sim

    sipp UAC --UDP--> sigrelay --TLS--> sigrelay-sim

- 20 reloads during a sipp run of 200 calls: every call gets its one final
  (the sim's 503), and each reload is acknowledged with what it applied;
- the last reload added an emergency number: a call to it is answered
  locally and never reaches the sim;
- a changed upstream.uri applies without a restart (a second sim that
  answers 603 takes over);
- a setting that needs a restart is named and its running value kept; an
  invalid configuration is refused and the relay keeps serving.
Prints one line per check; exits 1 if any failed, 77 if a tool is missing.
"""
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

NUMBER = "13125550100"
NEW_EMERGENCY = "999"


def reload_lines(relay):
    """Complete reload lines (a line still being written is not counted)."""
    text = relay.stderr_text()
    lines = text.split("\n")[:-1]  # the part after the last newline is incomplete
    return [line for line in lines if line.startswith("sigrelay: reload: ")]


def reload(relay, keys):
    """Rewrites the relay's config file with `keys` changed, sends SIGHUP,
    and returns the relay's answer (its next reload line)."""
    before = len(reload_lines(relay))
    relay.keys.update(keys)
    relay.ws.write(f"{relay.name}.conf", relay.config_text())
    os.kill(relay.proc.proc.pid, signal.SIGHUP)
    h.wait_for("the relay's reload answer", lambda: len(reload_lines(relay)) > before)
    return reload_lines(relay)[before]


def body(env):
    ws, pki = env.ws, env.pki
    sim = h.Sim(ws, env.sim_bin, "sim", pki, rules=["* 503"], tls=True)
    sim603 = h.Sim(ws, env.sim_bin, "sim603", pki, rules=["* 603"], tls=True)
    relay = env.relay("relay", {"upstream.uri": f"sip:127.0.0.1:{sim.ports['tls']};transport=tls",
                                "upstream.ca_file": pki.ca, "upstream.server_name": "sim.test",
                                "upstream.connections": "2", "dataplane.workers": "2", "tls.workers": "2",
                                "emergency.numbers": "911, 933, 112"})
    relay.wait_options(200)
    port = relay.ports["udp"]

    # 1. 20 reloads while 200 calls run.
    result = {}
    calls = threading.Thread(target=lambda: result.setdefault("r", env.sipp_call(
        "load", h.invite_scenario(NUMBER, 503), port, calls=200, rate=20, timeout=120)))
    calls.start()
    answers = []
    for i in range(20):
        keys = {"acl.allow": "127.0.0.1/32" if i % 2 else "127.0.0.1/32, 192.0.2.0/24",
                "upstream.timeout_ms": "2000" if i % 2 else "2500",
                "emergency.numbers": "911, 933, 112" + (f", {NEW_EMERGENCY}" if i == 19 else "")}
        answers.append(reload(relay, keys))
        time.sleep(0.25)  # spread the reloads over the run (pacing, not synchronisation)
    calls.join(timeout=150)
    r = result.get("r")
    env.check("200 calls during 20 reloads: every one got the sim's 503", r is not None and r.ok(200),
              r.describe() if r else "sipp did not finish")
    env.check("every reload answered with what it applied",
              len(answers) == 20 and all(a.startswith("sigrelay: reload: applied: ") for a in answers),
              answers[:3])
    env.check("the reloads named the keys that changed",
              "acl.allow" in answers[0] and "upstream.timeout_ms" in answers[0], answers[0])

    # 2. The new emergency number is in force: answered here, not sent upstream.
    before = sim.counters().get("invites", None)
    r = env.sipp_call("emergency", h.invite_scenario(NEW_EMERGENCY, 503), port)
    env.check("a call to the number added by the reload gets a local 503", r.ok(), r.describe())
    final = r.first_final(503)
    env.check("with the emergency Reason", final is not None and "emergency" in (final.get("reason") or ""),
              final.get("reason") if final else None)
    after = sim.counters().get("invites", None)
    env.check("and the service never saw it", before == after, (before, after))

    # 3. A new upstream list applies without a restart.
    line = reload(relay, {"upstream.uri": f"sip:127.0.0.1:{sim603.ports['tls']};transport=tls"})
    env.check("upstream.uri is applied at once", "applied: upstream.uri" in line, line)

    def gets_603():
        return env.sipp_call("switched", h.invite_scenario(NUMBER, 603), port, track=False).ok()
    h.wait_for("calls answered by the new upstream (603)", gets_603, timeout=30, interval=0.2)
    env.check("calls now go to the new upstream (603)", True)

    # 4. A restart-only setting is named and kept; an invalid file is refused.
    line = reload(relay, {"limits.max_transactions": "20000"})
    env.check("a setting that needs a restart is named", "needs a restart" in line and "limits.max_transactions" in line,
              line)
    line = reload(relay, {"upstream.timeout_ms": "not-a-number"})
    env.check("an invalid configuration is refused", "refused" in line and "upstream.timeout_ms" in line, line)
    r = env.sipp_call("after", h.invite_scenario(NUMBER, 603), port)
    env.check("the relay keeps serving after a refused reload", r.ok(), r.describe())

    env.check_one_final_each()
    env.check("relay stops cleanly", relay.stop() == 0, relay.stderr_text()[-300:])
    c = relay.counters or {}
    env.check("no call was failed open during the reloads",
              c.get("local_503_no_upstream") == 0 and c.get("local_503_timeout") == 0,
              (c.get("local_503_no_upstream"), c.get("local_503_timeout")))
    sim.stop()
    sim603.stop()


if __name__ == "__main__":
    h.run_test("hot reload", body, sys.argv)
