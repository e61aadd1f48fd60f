# shellcheck shell=sh
# The harness's /lib/functions/network.sh: an interface's address is the content of
# $HF_ROOT/tmp/net/IFACE.
network_get_ipaddr() {
	local __a
	__a="$(cat "$HF_ROOT/tmp/net/$2" 2>/dev/null)"
	eval "$1=\$__a"
	[ -n "$__a" ]
}
