#!/bin/sh
# need_package.sh PROGRAM PACKAGE WHY: make sure PROGRAM (a command, or the
# path of a program or a file such as a font) exists; install Debian's PACKAGE with apt-get when root, else say how.
# Used by the Makefile (chromium for tests/browser) and deploy/deploy.mk
# (promtool, amtool).
program="$1" package="$2" why="$3"
if [ -e "$program" ] || command -v "$program" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing $package (apt-get install $package) for $why"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
else
  echo "$program is missing ($why needs it): sudo apt-get install $package (Debian, Ubuntu)" >&2
  exit 1
fi
