# shellcheck shell=sh
# The harness's /lib/functions.sh: the config_* helpers an init script uses (over the harness's
# uci), the user helpers, and default_postinst/default_prerm as opkg runs them, written for
# these tests.
# shellcheck disable=SC1090,SC3043

_CFG_PKG=
_CFG_SHOW=

# As OpenWrt's, the package is read once here and config_get reads what was read (a uci process
# per option would make each run of the init script take seconds on a busy machine).
config_load() {
	_CFG_PKG="$1"
	_CFG_SHOW="$(uci -q show "$1")"
}

# Sets `set --` to the values of SECTION.OPTION (an option's one, a list's each); 1 when unset.
# `uci show` quotes them for the shell.
_config_values() {
	local __raw
	__raw="$(printf '%s\n' "$_CFG_SHOW" | awk -v k="$_CFG_PKG.$1.$2=" 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }')"
	[ -n "$__raw" ] || return 1
	_CFG_ARGS="$__raw"
}

config_get() {
	local __name="$1" __default="$4" __v=
	if _config_values "$2" "$3"; then
		eval "set -- $_CFG_ARGS"
		__v="$*"
	fi
	[ -n "$__v" ] || __v="$__default"
	eval "$__name=\$__v"
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
	local __f="$3" __v
	_config_values "$1" "$2" || return 0
	shift 3
	# Each value through the function, with the caller's extra arguments after it.
	local __extra="$*"
	eval "set -- $_CFG_ARGS"
	for __v in "$@"; do
		# shellcheck disable=SC2086 # the extra arguments are words
		"$__f" "$__v" $__extra
	done
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
