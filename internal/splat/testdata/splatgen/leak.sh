#!/bin/sh
# kmemleak reports an object only after it is a few seconds old and a scan
# found no reference to it; the list is in debugfs.
mount -t debugfs none /sys/kernel/debug
sleep 6
echo scan > /sys/kernel/debug/kmemleak
sleep 1
echo scan > /sys/kernel/debug/kmemleak
cat /sys/kernel/debug/kmemleak
