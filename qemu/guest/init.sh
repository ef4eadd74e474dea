#!/bin/sh
# /init of the devmap guest: PID 1, busybox sh, from the initramfs.
# The host (lib/harness/qemu/runner.ts) appends a small second archive with
# /etc/devmap/run.env (modules to load, mode, environment) and
# /etc/devmap/cmd (the command). The command's exit status goes back to
# the host on the second serial port (ttyS1; see DEVMAP_STATUS), away from console output that
# could imitate it; then the guest powers off (QEMU runs with -no-reboot).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# /tmp and /run stay on the initramfs (already RAM): --with files may live there.
chmod 1777 /tmp

DEVMAP_MODULES= DEVMAP_USER_MODULES= DEVMAP_MODE=run DEVMAP_FBCON= DEVMAP_STATUS=
. /etc/devmap/run.env

# insmod KO with its arguments: DEVMAP_KPARAMS_<name> (machine.moduleParams,
# --kparam), the name with - as _, like the kernel's own module names.
load_module() {
	name=${1##*/}
	name=${name%.ko}
	case $name in *-*) name=$(echo "$name" | tr - _) ;; esac
	params=
	case $name in
	*[!A-Za-z0-9_]*) ;;
	*) eval "params=\${DEVMAP_KPARAMS_$name-}" ;;
	esac
	# shellcheck disable=SC2086 # params are words, like on modprobe's line
	insmod "$1" $params
}
for ko in $DEVMAP_MODULES; do
	load_module "$ko" || echo "devmap-init: insmod $ko failed" >&2
done
# The user's own modules (devmap guest run --kmod): one that does not load
# fails the run before the command starts.
user_module_failed=
for ko in $DEVMAP_USER_MODULES; do
	if ! load_module "$ko" 2>/tmp/.devmap-insmod; then
		user_module_failed=$ko
		break
	fi
done
# fbcon would draw its cursor over the framebuffer that tests write; a
# machine with DEVMAP_FBCON=bound keeps it, like a machine with a text console.
[ "$DEVMAP_FBCON" = bound ] || for vt in /sys/class/vtconsole/vtcon*; do
	case "$(cat "$vt/name" 2>/dev/null)" in
	*"frame buffer"*) echo 0 > "$vt/bind" ;;
	esac
done
# Plain \n on the console: the host streams it as the command's output.
stty -onlcr 2>/dev/null
hostname devmap-guest

# A snapshot's boot (lib/harness/qemu/snapshot.ts): everything above is done
# once, then the host saves the guest right here. The command comes over the
# devmap.job port -- "SECONDS SIZE", then a SIZE-byte cpio with this run's
# run.env, cmd and --with files -- both on the boot that took the snapshot
# and on every restore of it. The clock is the snapshot's until then. The
# kernel makes its boot_id on the first read: read here, it names the
# snapshot, the same in every guest restored from it.
if [ -n "$DEVMAP_SNAPSHOT" ]; then
	cat /proc/sys/kernel/random/boot_id > /dev/null
	job=
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = devmap.job ] && job=/dev/${p##*/}
	done
	exec 3<>"$job"
	echo ready >&3
	read -r now size <&3
	date -u -s "@$now" >/dev/null
	sh /etc/devmap/restored.sh
	head -c "$size" <&3 | (cd / && cpio -idmu 2>/dev/null)
	exec 3>&-
	. /etc/devmap/run.env
fi

cd "${DEVMAP_CWD:-/root}"
if [ -n "$user_module_failed" ]; then
	echo "--- devmap: command start ---"
	echo "devmap: $user_module_failed did not load, so the command did not run:"
	cat /tmp/.devmap-insmod
	echo "the kernel's last messages:"
	dmesg | tail -n 8
	echo "--- devmap: command end ---"
	status=125
elif [ "$DEVMAP_MODE" = shell ]; then
	echo "devmap guest shell: exit (or Ctrl-D) powers the guest off; Ctrl-A X quits QEMU"
	setsid cttyhack sh -l
	status=$?
else
	# The host shows the console between these two lines as the command's output.
	echo "--- devmap: command start ---"
	# Like `docker run` without -t: output through a pipe, not the tty, so
	# programs print plain text (no colours, no progress redraws).
	set -o pipefail
	sh /etc/devmap/cmd < /dev/null 2>&1 | cat
	status=$?
	set +o pipefail
	# stty waits (TCSADRAIN) until the console has sent all of the output.
	stty -onlcr 2>/dev/null
	echo "--- devmap: command end ---"
	stty -onlcr 2>/dev/null
fi
# DEVMAP_STATUS: a tty (default ttyS1) or virtio:NAME, a virtio-serial port
# (boards with one UART, e.g. QEMU's ARM virt).
status_dev=/dev/${DEVMAP_STATUS:-ttyS1}
case "$DEVMAP_STATUS" in
virtio:*)
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = "${DEVMAP_STATUS#virtio:}" ] && status_dev=/dev/${p##*/}
	done ;;
esac
echo "devmap-exit-status $status" > "$status_dev"
# A screendump was asked for: the host stops the machine itself.
[ -n "$DEVMAP_HOLD" ] && sleep 60
sync
poweroff -f
