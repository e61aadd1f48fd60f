# shellcheck shell=sh
# The harness's /lib/functions.sh: the config_* helpers an init script uses (over the harness's
# uci), the user helpers, and default_postinst/default_prerm as opkg runs them, written for
# these tests.
# shellcheck disable=SC1090,SC3043

N="
"
_CFG_PKG=

config_load() { _CFG_PKG="$1"; }

config_get() {
	local __v
	__v="$(uci -q get "$_CFG_PKG.$2.$3")" || __v="$4"
	[ -n "$__v" ] || __v="$4"
	eval "$1=\$__v"
}

config_get_bool() {
	local __b
	config_get __b "$2" "$3" "$4"
	case "$__b" in
		1|on|true|yes|enabled) __b=1 ;;
		0|off|false|no|disabled) __b=0 ;;
		*) __b="$4" ;;
	esac
	eval "$1=\$__b"
}

config_list_foreach() {
	local __s="$1" __o="$2" __f="$3" __items __v __ifs="$IFS"
	shift 3
	__items="$(uci -q -d "$N" get "$_CFG_PKG.$__s.$__o")" || return 0
	set -f
	IFS="$N"
	for __v in $__items; do
		IFS="$__ifs"
		"$__f" "$__v" "$@"
	done
	IFS="$__ifs"
	set +f
}

user_exists() { grep -qs "^$1:" "$HF_ROOT/etc/passwd"; }
group_exists() { grep -qs "^$1:" "$HF_ROOT/etc/group"; }
group_add() { echo "$1:x:$2:" >>"$HF_ROOT/etc/group"; }
user_add() { echo "$1:x:$2:$3:${4:-$1}:${5:-/var/run/$1}:${6:-/bin/false}" >>"$HF_ROOT/etc/passwd"; }

# As OpenWrt's: the package's own part, then every init script enabled and started.
default_postinst() {
	local ret=0
	if [ -f "$HF_ROOT/usr/lib/opkg/info/holdfast.postinst-pkg" ]; then
		( . "$HF_ROOT/usr/lib/opkg/info/holdfast.postinst-pkg" )
		ret=$?
	fi
	"$HF_ROOT/etc/init.d/holdfast" enable
	"$HF_ROOT/etc/init.d/holdfast" start
	return $ret
}

# As OpenWrt's: the package's own part, then every init script disabled and stopped.
default_prerm() {
	local ret=0
	if [ -f "$HF_ROOT/usr/lib/opkg/info/holdfast.prerm-pkg" ]; then
		( . "$HF_ROOT/usr/lib/opkg/info/holdfast.prerm-pkg" )
		ret=$?
	fi
	[ "$PKG_UPGRADE" = 1 ] || "$HF_ROOT/etc/init.d/holdfast" disable
	"$HF_ROOT/etc/init.d/holdfast" stop
	return $ret
}
