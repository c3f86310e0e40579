#!/bin/sh
# powernode /init shim (install as /init, mode 0755; busybox sh is /bin/sh).
# A Bun-compiled executable finds its embedded code through /proc/self/exe, and the kernel starts
# PID 1 with no /proc mounted: started directly, Bun aborts before any agent code runs. So mount
# /proc, then exec the agent, which stays PID 1 and does everything else (see docs/agent.md).
/bin/busybox mount -t proc -o nosuid,nodev,noexec proc /proc || echo "powernode-init: mounting /proc failed" >/dev/console
exec /bin/powernode-agent "$@"
