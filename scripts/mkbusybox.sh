#!/usr/bin/env bash
# Writes a busybox rootfs tarball (from Debian's busybox-static) to $1: the offline base image.
set -euo pipefail
out=${1:?usage: mkbusybox.sh OUT.tar}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev,home,var}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || [ -e "$root/bin/$applet" ] || ln -s /bin/busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n' >"$root/etc/group"
tar --numeric-owner -C "$root" -cf "$out" .
