#!/bin/sh
# Boot the x86_64 guest by hand with an interactive shell on its serial
# console. The machine (devices, PCI addresses, kernel command line) is the
# data in lib/harness/machines/machines.ts; this only calls the CLI that reads it.
#
#   qemu/run-x86_64.sh                         a shell in the guest
#   qemu/run-x86_64.sh --with /usr/bin/strace  ...with a host program along
#   qemu/run-x86_64.sh run -- devmap ivshmem list
#
# In the shell: `exit` powers the guest off; Ctrl-A X quits QEMU at once,
# Ctrl-A C switches to QEMU's monitor.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/dist/cli.js" ] || { echo "dist/ is missing: run 'npm install' (or 'npx tsc -p .') in $root first" >&2; exit 1; }
case "$1" in
run) shift; exec node "$root/dist/cli.js" guest run --machine x86_64 "$@" ;;
*) exec node "$root/dist/cli.js" guest shell --machine x86_64 "$@" ;;
esac
