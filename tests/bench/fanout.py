#!/usr/bin/env python3
"""Server CPU per delivered message, by hand (not part of make test).

One publisher (quipu-cli chat) sends M messages of ~100 bytes to a room
where N subscribers (quipu-cli listen) wait for all of them; the figure is
the server's user+system CPU from /proc divided by N*M. The same workload
DESIGN.md uses for mosquitto and ngircd.

  QUIPU_SERVER=build/server/quipu-server QUIPU_CLI=build/src/quipu-cli \\
    python3 tests/bench/fanout.py [SUBSCRIBERS=50] [MESSAGES=2000]
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402


def server_cpu(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    n_subs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    n_msgs = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    world = harness.World()
    try:
        server = harness.Server(world)
        subs = [harness.Client(world, server.address, "sub%03d" % i, "listen", "--count", str(n_msgs))
                for i in range(n_subs)]
        for sub in subs:
            sub.wait_event("ready", timeout=60)
        pub = harness.Client(world, server.address, "pub", "chat", "--history", "0", stdin=True)
        pub.wait_event("state")

        cpu0, t0 = server_cpu(server.proc.pid), time.monotonic()
        for i in range(n_msgs):
            pub.say("%s %05d" % ("x" * 90, i))
        pub.end_input()
        for sub in subs:
            if sub.wait(600) != 0:
                raise SystemExit("a subscriber failed: " + sub.stderr())
        cpu1, t1 = server_cpu(server.proc.pid), time.monotonic()
        pub.wait()

        delivered = n_subs * n_msgs
        print("subscribers %d, messages %d, delivered %d, wall %.2f s, server cpu %.2f s, "
              "%.2f us per delivered message"
              % (n_subs, n_msgs, delivered, t1 - t0, cpu1 - cpu0, (cpu1 - cpu0) * 1e6 / delivered))
    finally:
        world.cleanup()


if __name__ == "__main__":
    main()
