#!/bin/sh
# Run in a guest just restored from a snapshot (by /init before the job, by
# the vitest bridge before its first test). PCI devices whose QEMU model
# keeps no migration state -- QEMU's edu (1234:11e8) -- come back from a
# restore with a reset config space: BARs and bus mastering off, so their
# driver's mappings and registers are dead. Removing them and rescanning
# the bus gives them fresh resources and probes their driver again.
found=
for d in /sys/bus/pci/devices/*; do
	[ -e "$d/vendor" ] || continue
	if [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ]; then
		echo 1 > "$d/remove"
		found=1
	fi
done
[ -z "$found" ] || echo 1 > /sys/bus/pci/rescan
