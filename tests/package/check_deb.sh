#!/bin/bash
# check_deb.sh BUILD VERSION — the visitsync .deb and `cmake --install`.
#
# Builds the package with `cpack -G DEB` from the build directory BUILD into
# a temporary directory and checks it with dpkg-deb: the control fields
# (Depends computed by dpkg-shlibdeps), the files and their places (the
# server's unit and the nightly backup's service and timer), the
# maintainer scripts (present, executable, `sh -n` clean), the conffile, and
# the binary unpacked with `dpkg -x` answering --version. Never installs it.
#
# A build that must not become a town's package (sanitizers, Debug) is first
# checked to be refused by cpack; then a package is made anyway
# (CPACK_VS_ALLOW_UNFIT) and its structure checked the same way, except that
# its Depends may name the sanitizer runtimes. A missing tool fails the test.
set -u
build=$1
version=$2
fail() { echo "package_deb: $*" >&2; exit 1; }

for t in cpack dpkg-deb dpkg dpkg-shlibdeps file; do
  command -v "$t" >/dev/null ||
    fail "$t is missing: install dpkg-dev and file (bash .ci/deps) to build the .deb"
done
[ -f "$build/CPackConfig.cmake" ] || fail "$build/CPackConfig.cmake is missing: configure with cmake first"
tmp=$(mktemp -d /tmp/visitsync-package.XXXXXX) || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# The reason, if any, is the one cpack itself reads.
unfit=$(sed -n 's/^set(CPACK_VS_UNFIT "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
name=visitsync_${version}_${arch}.deb
allow=()
if [ -n "$unfit" ]; then
  if (cd "$build" && timeout 120 cpack -G DEB -B "$tmp/refused") >"$tmp/refused.log" 2>&1; then
    fail "cpack made a package of a build that must not be one ($unfit)"
  fi
  grep -q "cannot be packaged for a server" "$tmp/refused.log" ||
    { cat "$tmp/refused.log" >&2; fail "cpack failed, but not with the refusal of an unfit build"; }
  [ ! -e "$tmp/refused/$name" ] || fail "the refused cpack run left $name behind"
  echo "package_deb: refused as it must be: $unfit; checking the structure of a package made anyway"
  allow=(-D CPACK_VS_ALLOW_UNFIT=ON)
fi

(cd "$build" && timeout 150 cpack -G DEB -B "$tmp/out" "${allow[@]}") >"$tmp/cpack.log" 2>&1 ||
  { tail -30 "$tmp/cpack.log" >&2; fail "cpack -G DEB failed (log above)"; }
deb=$tmp/out/$name
[ -f "$deb" ] || { ls "$tmp/out" >&2; fail "cpack did not write $name"; }

# ---- control fields ---------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = visitsync ] || fail "Package is '$(field Package)', not visitsync"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', not $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)', not $arch"
[ "$(field Section)" = net ] || fail "Section is '$(field Section)', not net"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
field Description | grep -q 'sync server' || fail "Description does not say what it is"
deps=$(field Depends)
for d in libwebsockets libcjson libsqlite3 libssl adduser; do
  grep -q "\\b$d" <<<"$deps" || fail "Depends does not name $d: $deps"
done
if [ -z "$unfit" ] && grep -Eq 'lib(asan|ubsan|tsan)' <<<"$deps"; then
  fail "a package for servers depends on a sanitizer runtime: $deps"
fi

# ---- files ----------------------------------------------------------------------------------
dpkg-deb -c "$deb" >"$tmp/list" || fail "dpkg-deb -c failed"
has() { # MODE PATH: a file of that mode (ls -l style prefix) at that path
  grep -Eq "^$1 +root/root +[0-9]+ .* \\./$2\$" "$tmp/list" ||
    { cat "$tmp/list" >&2; fail "no $2 with mode $1 in the package (listing above)"; }
}
has '-rwxr-xr-x' usr/bin/visitsync
has '-rw-r--r--' usr/lib/systemd/system/visitsync.service
has '-rw-r--r--' usr/lib/systemd/system/visitsync-backup.service
has '-rw-r--r--' usr/lib/systemd/system/visitsync-backup.timer
has '-rw-------' etc/default/visitsync
has '-rw-r--r--' usr/share/doc/visitsync/README.md
has '-rw-r--r--' usr/share/doc/visitsync/operations.md
if grep -Eq ' \./usr/local/| \./tmp/| \./home/' "$tmp/list"; then
  fail "the package has files outside /usr and /etc: $(grep -E ' \./(usr/local|tmp|home)/' "$tmp/list" | head -3)"
fi

# ---- maintainer scripts and conffiles -------------------------------------------------------
dpkg-deb -e "$deb" "$tmp/control" || fail "dpkg-deb -e failed"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "no executable $s in the package"
  sh -n "$tmp/control/$s" || fail "$s does not parse (sh -n)"
  head -1 "$tmp/control/$s" | grep -q '^#!/bin/sh' || fail "$s does not start with #!/bin/sh"
done
grep -q 'adduser --system' "$tmp/control/postinst" || fail "postinst does not create the system user"
# Commands only: the closing message tells the operator to enable it.
code() { grep -v '^ *#' "$1" | grep -v 'echo '; }
if code "$tmp/control/postinst" | grep -Eq 'systemctl +(start|enable|restart)\b'; then
  fail "postinst starts or enables the service before the operator has configured it"
fi
# Purge may delete the user, never the database: no rm of the state directory
# or a .db file outside comments and the messages that tell the operator how.
code "$tmp/control/postrm" | grep -Eq '\brm\b.*(/var/lib/visitsync|\.db)' &&
  fail "postrm deletes the database or its directory"
grep -q 'disable visitsync.service visitsync-backup.timer' "$tmp/control/prerm" ||
  fail "prerm does not disable the backup timer on removal"
[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" = /etc/default/visitsync ] ||
  fail "conffiles is not exactly /etc/default/visitsync"
dpkg-deb -I "$deb" >"$tmp/info" || fail "dpkg-deb -I failed"
for s in postinst prerm postrm conffiles control md5sums; do
  grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\\*? *$s\\b" "$tmp/info" ||
    { cat "$tmp/info" >&2; fail "dpkg-deb -I does not list $s"; }
done

# ---- unpacked: the unit, the default file, the binary -------------------------------------------
dpkg -x "$deb" "$tmp/root" || fail "dpkg -x failed"
unit=$tmp/root/usr/lib/systemd/system/visitsync.service
grep -q '^ExecStart=/usr/bin/visitsync serve --db /var/lib/visitsync/visitsync.db \$VISITSYNC_ARGS$' "$unit" ||
  fail "the unit's ExecStart does not run /usr/bin/visitsync serve with \$VISITSYNC_ARGS"
grep -q '^ExecStartPre=/usr/bin/visitsync init --db /var/lib/visitsync/visitsync.db$' "$unit" ||
  fail "the unit does not run visitsync init before the server"
grep -q '^EnvironmentFile=-/etc/default/visitsync$' "$unit" || fail "the unit does not read /etc/default/visitsync"
grep -q '^VISITSYNC_ARGS="--listen 127\.0\.0\.1:' "$tmp/root/etc/default/visitsync" ||
  fail "/etc/default/visitsync does not default to a loopback listen address"
bunit=$tmp/root/usr/lib/systemd/system/visitsync-backup.service
btimer=$tmp/root/usr/lib/systemd/system/visitsync-backup.timer
grep -q '^ExecStart=/bin/sh -c .exec /usr/bin/visitsync backup --db /var/lib/visitsync/visitsync.db "/var/lib/visitsync/backups/' "$bunit" ||
  fail "the backup unit does not run /usr/bin/visitsync backup into /var/lib/visitsync/backups"
grep -q '^User=visitsync$' "$bunit" || fail "the backup unit does not run as the user visitsync"
grep -q '^OnCalendar=' "$btimer" && grep -q '^Persistent=true$' "$btimer" ||
  fail "the backup timer has no OnCalendar= or is not Persistent"
grep -q '^WantedBy=timers.target$' "$btimer" || fail "the backup timer is not wanted by timers.target"
got=$("$tmp/root/usr/bin/visitsync" --version 2>&1) || fail "the unpacked visitsync --version failed: $got"
[ "$got" = "visitsync $version" ] || fail "the unpacked visitsync --version says '$got', not 'visitsync $version'"
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart='s binary to exist: point the unit at the unpacked
  # one. It prints warnings (unknown keys, bad values) but exits 0 on them.
  mkdir -p "$tmp/verify.d" || fail "cannot make a directory for systemd-analyze"
  for u in visitsync.service visitsync-backup.service visitsync-backup.timer; do
    sed "s|/usr/bin/visitsync|$tmp/root/usr/bin/visitsync|g" "$tmp/root/usr/lib/systemd/system/$u" \
      >"$tmp/verify.d/$u" || fail "cannot copy $u for systemd-analyze"
  done
  (cd "$tmp/verify.d" && systemd-analyze verify visitsync.service visitsync-backup.service \
    visitsync-backup.timer) >"$tmp/verify" 2>&1 ||
    { cat "$tmp/verify" >&2; fail "systemd-analyze verify rejects a unit"; }
  if [ -s "$tmp/verify" ]; then cat "$tmp/verify" >&2; fail "systemd-analyze verify warns about a unit"; fi
else
  echo "package_deb: systemd-analyze not found: the unit was not verified"
fi

# ---- cmake --install into a prefix: only under it, no /etc ------------------------------------
inst=$tmp/inst
cmake --install "$build" --prefix "$inst" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install --prefix failed"; }
grep -- '-- Installing: \|-- Up-to-date: ' "$tmp/install.log" | grep -v -- ": $inst/" &&
  fail "cmake --install wrote outside its prefix (lines above)"
[ -x "$inst/bin/visitsync" ] || fail "cmake --install: no bin/visitsync"
grep -q "^ExecStart=$inst/bin/visitsync serve " "$inst/lib/systemd/system/visitsync.service" ||
  fail "cmake --install: the unit does not name the prefix's binary"
grep -q "exec $inst/bin/visitsync backup " "$inst/lib/systemd/system/visitsync-backup.service" ||
  fail "cmake --install: the backup unit does not name the prefix's binary"
[ -f "$inst/lib/systemd/system/visitsync-backup.timer" ] || fail "cmake --install: no backup timer"
[ -f "$inst/share/doc/visitsync/operations.md" ] || fail "cmake --install: no share/doc/visitsync/operations.md"
[ ! -e "$inst/etc" ] || fail "cmake --install put an etc/ under the prefix (the default file is the package's)"

echo "package_deb: $name ok ($(stat -c %s "$deb") bytes); Depends: $deps"
