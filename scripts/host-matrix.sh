#!/usr/bin/env bash
# Runs the README's two commands on another Debian host than this one: a
# cached Debian 13 (trixie) root with only what a user of that release
# installs, a fresh clone of HEAD, a fresh devmap cache. See --help.
set -euo pipefail

SUITE=trixie
TITLE='Debian 13'
# What a user of the current stable installs before following the README.
# Everything else (QEMU's helpers, compilers for the guest kernels, build
# roots, cmake, ...) the project's own scripts must install.
PACKAGES=(nodejs npm qemu-system-x86 qemu-system-arm git build-essential python3 ca-certificates)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

usage() {
  cat <<EOF
Usage: scripts/host-matrix.sh [--only demo|test] [--keep] [--fresh]

Proves devmap on a $TITLE ($SUITE) host from this machine: runs the README's
two commands, exactly, inside a $SUITE root, and reports pass/fail and times.

  1. The root: a minimal $SUITE made with mmdebstrap (--variant=minbase) from
     the Debian mirror this machine's apt uses (read from /etc/apt each run),
     plus what a $TITLE user installs first:
       ${PACKAGES[*]}
     It is cached under \${DEVMAP_CACHE:-\$HOME/.cache/devmap}/hosts/$SUITE
     (built in a temp folder, renamed when complete; 1-6 minutes) and never
     changed afterwards.
  2. Each run works on a throw-away overlay of that root, in private mount
     and PID namespaces (nothing stays mounted, no process outlives the run):
     /proc (its own), /sys, /dev, /dev/pts bound in, a private /dev/shm,
     this machine's CA certificates (/usr/local/share/ca-certificates/*.crt)
     added with update-ca-certificates and named to Node and npm
     (NODE_EXTRA_CA_CERTS, npm_config_cafile), and a fresh git clone of this
     checkout's HEAD (committed work only) in root's home there, ~/devmap.
     devmap's cache is that home's ~/.cache/devmap: empty at the start of
     every run, so whatever devmap downloads, builds or installs with
     apt-get happens in the run.
  3. Inside, as root with CI=true:
       npm ci && npm run demo
       npm ci && npm test
     Each command's output goes to the terminal and to a log; the logs and
     the clone's artifacts/ are kept under .../hosts/logs/$SUITE-DATE/.

Exits 0 when every command run passed, 1 when one failed (or the run was
stopped), 2 on a usage error or when the root cannot be made. Needs root
(mmdebstrap, mount, chroot) and the network to the Debian mirror and the
npm registry. Takes long: the whole test suite runs its guests under TCG
unless KVM works (measured: 27 minutes for both commands on 2 cores).

Options:
  --only demo|test  run only that command (npm ci first, as the README says)
  --keep            keep the run's overlay (everything the run changed, in
                    .../hosts/$SUITE.run-PID/upper) and print how to enter it
  --fresh           remove the cached root first and make it again
  -h, --help        this text
EOF
}

say() { printf 'host-matrix: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

only='' keep=0 fresh=0
while [ $# -gt 0 ]; do
  case $1 in
    --only) [ $# -ge 2 ] || die '--only needs demo or test'; only=$2; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    --keep) keep=1; shift ;;
    --fresh) fresh=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case $only in '' | demo | test) ;; *) die "--only takes demo or test, not \"$only\"" ;; esac

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
rev=$(git -C "$repo" rev-parse HEAD)
hosts=${DEVMAP_CACHE:-$HOME/.cache/devmap}/hosts
root=$hosts/$SUITE

[ "$(id -u)" -eq 0 ] || die 'needs root (mmdebstrap, mount, chroot); run it with sudo'
for tool in mmdebstrap unshare chroot mount flock git; do
  command -v "$tool" >/dev/null || die "needs $tool; on Debian: apt-get install mmdebstrap util-linux mount git"
done
[ -f "$KEYRING" ] || die "needs $KEYRING (apt-get install debian-archive-keyring) to check the $SUITE archive"

# The first Debian archive and security archive among the host's apt sources
# (deb822 *.sources, one-line sources.list and *.list), printed as
# "archive URI" / "security URI" lines: a Debian suite with main, signed by
# Debian's keyring or the default one (third-party repositories have their own).
host_archives() {
  local debian='^(buster|bullseye|bookworm|trixie|forky|sid|(old)*stable|testing|unstable)(-updates|-backports|-security|/updates)?$'
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v debian="$debian" '
      BEGIN { RS = ""; FS = "\n" }
      {
        split("", v); key = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^#/) continue
          if ($i ~ /^[ \t]/ && key != "") { v[key] = v[key] " " $i; continue }
          if (match($i, /^[A-Za-z-]+:/)) { key = tolower(substr($i, 1, RLENGTH - 1)); v[key] = substr($i, RLENGTH + 1) }
        }
        if (v["enabled"] ~ /^[ \t]*(no|false)/ || (" " v["types"] " ") !~ /[ \t]deb[ \t]/) next
        if ((" " v["components"] " ") !~ /[ \t]main[ \t]/) next
        if (v["signed-by"] != "" && v["signed-by"] !~ /debian-archive-keyring/) next
        split(v["uris"], uris, /[ \t]+/); uri = uris[1] != "" ? uris[1] : uris[2]
        n = split(v["suites"], suites, /[ \t]+/)
        for (i = 1; i <= n; i++) if (suites[i] ~ debian) print (suites[i] ~ /(-security|\/updates)$/ ? "security" : "archive"), uri
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v debian="$debian" '
      { sub(/#.*/, "") }
      $1 != "deb" { next }
      {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) opts = opts " " $(i++); opts = opts " " $(i++) }
        if (opts ~ /signed-by=/ && opts !~ /debian-archive-keyring/) next
        uri = $i; suite = $(i + 1); main = 0
        for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
        if (main && suite ~ debian) print (suite ~ /(-security|\/updates)$/ ? "security" : "archive"), uri
      }' "$f"
  done
}

archives=$(host_archives)
mirror=$(awk '$1 == "archive" { sub(/\/+$/, "", $2); print $2; exit }' <<<"$archives")
security=$(awk '$1 == "security" { sub(/\/+$/, "", $2); print $2; exit }' <<<"$archives")
[ -n "$mirror" ] || die 'no Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d/ (a "deb URI SUITE main" entry or a deb822 stanza)'

# The root's sources: the suite and its updates from the mirror, its
# security updates from the host's security archive when it has one.
sources=("deb [signed-by=$KEYRING] $mirror $SUITE main" "deb [signed-by=$KEYRING] $mirror $SUITE-updates main")
[ -z "$security" ] || sources+=("deb [signed-by=$KEYRING] $security $SUITE-security main")

# What the cached root was made with; a root made from another list is made again.
stamp="suite=$SUITE packages=${PACKAGES[*]}"

make_root() {
  mkdir -p "$hosts"
  exec 9>"$hosts/.$SUITE.lock"
  flock 9
  if [ "$fresh" = 1 ] && [ -e "$root" ]; then
    say "--fresh: removing the cached root $root"
    rm -rf "$root"
  fi
  if [ -e "$root" ] && [ "$(cat "$root/.host-matrix" 2>/dev/null)" != "$stamp" ]; then
    say "the cached root was made from another package list; making it again"
    rm -rf "$root"
  fi
  if [ -e "$root" ]; then
    say "reusing the $SUITE root $root ($(sed -n 's/^made=//p' "$root/.host-matrix.made" 2>/dev/null))"
    exec 9>&-
    return
  fi
  rm -rf "$root".tmp-*
  local tmp=$root.tmp-$$ start=$SECONDS
  say "making the $SUITE root with mmdebstrap from $mirror (${PACKAGES[*]}) ..."
  # mmdebstrap's own mounts live in this private namespace and go with it.
  if ! unshare --mount --propagation private --fork mmdebstrap --mode=root --variant=minbase \
      --include="$(IFS=,; echo "${PACKAGES[*]}")" \
      --aptopt='APT::Sandbox::User "root"' \
      "$SUITE" "$tmp" "${sources[@]}" >&2; then
    rm -rf "$tmp"
    die "mmdebstrap could not make the $SUITE root (its messages are above); nothing was kept"
  fi
  printf '%s\n' "$stamp" >"$tmp/.host-matrix"
  printf 'made=%s in %d s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" $((SECONDS - start)) >"$tmp/.host-matrix.made"
  mv "$tmp" "$root"
  say "$SUITE root ready after $((SECONDS - start)) s"
  exec 9>&-
}

# Runs in the new mount and PID namespaces (PID 1 there: when it ends, every
# process of the run ends). Arguments: ROOT RUN REPO REV ONLY LOGS.
# shellcheck disable=SC2016 # expanded by the bash that runs it
IN_NAMESPACE='set -euo pipefail
base=$1 run=$2 repo=$3 rev=$4 only=$5 logs=$6
m=$run/merged
mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$m"
mount -t proc proc "$m/proc"
mount --bind /sys "$m/sys"
mount --bind /dev "$m/dev"
mount --bind /dev/pts "$m/dev/pts"
# A host of its own has its own /dev/shm: files of other runs on this
# machine must not show up in the leftover checks of this one.
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$m/dev/shm"

env=(HOME=/root USER=root LOGNAME=root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CI=true)
certs=(/usr/local/share/ca-certificates/*.crt)
if [ -f "${certs[0]}" ]; then
  # Node (and so npm) trusts its own CA list, not the system one: name the system bundle to it.
  cp "${certs[@]}" "$m/usr/local/share/ca-certificates/"
  chroot "$m" update-ca-certificates >/dev/null
  env+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_cafile=/etc/ssl/certs/ca-certificates.crt)
fi

git clone --quiet --no-checkout "$repo" "$m/srv/devmap"
git -C "$m/srv/devmap" -c advice.detachedHead=false checkout --quiet --detach "$rev"

inside() { chroot "$m" /usr/bin/env -i "${env[@]}" "$@"; }
{
  echo "debian=$(cat "$m/etc/debian_version")"
  echo "node=$(inside node --version)"
  echo "npm=$(inside npm --version)"
  echo "qemu=$(inside qemu-system-x86_64 --version | head -n1)"
  echo "gcc=$(inside gcc --version | head -n1)"
} >"$run/versions"

# One step of a README command: its time and status in $run/results, its output in the log.
step() {
  local name=$1 log=$2 start=$SECONDS status=0; shift 2
  printf "\n== %s: %s\n" "$name" "$*" | tee -a "$log" >&2
  inside sh -c "cd /srv/devmap && exec \"\$@\"" sh "$@" 2>&1 | tee -a "$log" || status=$?
  echo "$name|$status|$((SECONDS - start))" >>"$run/results"
  return "$status"
}

failed=0
for cmd in demo test; do
  [ -z "$only" ] || [ "$only" = "$cmd" ] || continue
  log=$logs/$cmd.log
  if [ "$cmd" = demo ]; then readme=(npm run demo); else readme=(npm test); fi
  if step "$cmd: npm ci" "$log" npm ci; then
    step "$cmd: ${readme[*]}" "$log" "${readme[@]}" || failed=1
  else
    failed=1
  fi
  rm -rf "$logs/artifacts-$cmd"
  [ ! -d "$m/srv/devmap/artifacts" ] || cp -r "$m/srv/devmap/artifacts" "$logs/artifacts-$cmd"
done
exit "$failed"'

run_readme() {
  local run=$hosts/$SUITE.run-$$ logs
  logs=$hosts/logs/$SUITE-$(date -u +%Y%m%d-%H%M%S)
  mkdir -p "$run/upper" "$run/work" "$run/merged" "$logs"
  # shellcheck disable=SC2064 # the paths are fixed now
  [ "$keep" = 1 ] || trap "rm -rf '$run'" EXIT
  say "run folder $run; logs in $logs"
  local status=0 start=$SECONDS ns
  unshare --mount --propagation private --pid --fork --kill-child \
    bash -c "$IN_NAMESPACE" bash "$root" "$run" "$repo" "$rev" "$only" "$logs" &
  ns=$!
  # unshare ignores SIGINT and SIGTERM while its child runs: end that child,
  # PID 1 of the namespace, and every process of the run ends with it.
  # shellcheck disable=SC2064 # the PID is fixed now
  trap "kill -KILL \$(cat /proc/$ns/task/$ns/children 2>/dev/null) 2>/dev/null; say 'stopped'" INT TERM
  while :; do
    wait "$ns" && status=0 || status=$?
    kill -0 "$ns" 2>/dev/null || break
  done
  trap - INT TERM
  report "$run" "$logs" $((SECONDS - start))
  if [ "$keep" = 1 ]; then
    say "kept the run: what it changed is in $run/upper; to enter it:"
    say "  unshare --mount --fork sh -c 'mount -t overlay overlay -o lowerdir=$root,upperdir=$run/upper,workdir=$run/work $run/merged && mount -t proc proc $run/merged/proc && mount --bind /dev $run/merged/dev && exec chroot $run/merged bash'"
  fi
  return "$status"
}

report() {
  local run=$1 logs=$2 total=$3
  echo
  echo "host-matrix: $TITLE ($SUITE) host, devmap $(git -C "$repo" log -1 --format='%h %s' "$rev" | cut -c1-72)"
  [ ! -f "$run/versions" ] || sed 's/^/  /' "$run/versions"
  if [ ! -f "$run/results" ]; then
    echo "  no command finished (see above)"
    return
  fi
  local name status secs
  while IFS='|' read -r name status secs; do
    printf '  %-24s %s  %4d s\n' "$name" "$([ "$status" = 0 ] && echo PASS || echo "FAIL (exit $status)")" "$secs"
  done <"$run/results"
  # npm test's summary: one line per tier, then the totals.
  [ ! -f "$logs/test.log" ] || grep -E '^(host|guest [^:]+): |^[0-9]+ passed, [0-9]+ failed' "$logs/test.log" | sed 's/^/  /' || true
  echo "  total $total s; logs: $logs"
}

make_root
run_readme || exit 1
