#!/bin/sh
# One executable as a user first runs it: `holdfast version`, then one real query through
# `holdfast serve` to a dnsmasq on loopback, asked with `holdfast query`. Nothing beyond loopback
# is needed or asked. release.yml runs it on each musl executable in Alpine (--network none);
# test/packaging/container-smoke.test.ts runs it here on the glibc one.
#   smoke.sh EXECUTABLE [UPSTREAM_PORT [PORT]]    (dnsmasq's port, 5340; Holdfast's, 5341)
set -eu
exe=$1
upstream_port=${2:-5340}
port=${3:-$((upstream_port + 1))}
work=$(mktemp -d)
pids=''
cleanup() {
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$exe" version

dnsmasq --keep-in-foreground --port="$upstream_port" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --local-ttl=60 --address=/smoke.test/192.0.2.53 --pid-file= >"$work/dnsmasq.log" 2>&1 &
pids="$pids $!"
"$exe" serve --listen "127.0.0.1:$port" --upstream "udp://127.0.0.1:$upstream_port" >"$work/serve.log" 2>&1 &
pids="$pids $!"

# Both start in the background: ask until the answer comes, at most 60 times.
tries=0
until out=$("$exe" query --server "127.0.0.1:$port" --timeout 1000 www.smoke.test A 2>&1) &&
  printf '%s\n' "$out" | grep -q '192\.0\.2\.53'; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    printf 'smoke: no answer from holdfast on port %s\n%s\n--- serve:\n' "$port" "$out" >&2
    cat "$work/serve.log" "$work/dnsmasq.log" >&2
    exit 1
  fi
  sleep 0.5
done
printf '%s\n' "$out"
echo "smoke: $exe answered www.smoke.test through dnsmasq"
