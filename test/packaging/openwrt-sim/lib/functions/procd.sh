# shellcheck shell=sh
# The harness's /lib/functions/procd.sh: every call is recorded in $HF_ROOT/procd.log, one line
# each, arguments separated by tabs; an instance counts as running from procd_close_service
# (after an instance was opened) to procd_kill, as procd would have it.
# shellcheck disable=SC3043

_procd_log() {
	local IFS="	"
	printf '%s\n' "$*" >>"$HF_ROOT/procd.log"
}
_procd_had_instance=

procd_open_service() { _procd_log procd_open_service "$@"; _procd_had_instance=; }
procd_close_service() {
	service_triggers
	_procd_log procd_close_service "$@"
	if [ -n "$_procd_had_instance" ]; then : >"$HF_ROOT/procd.running"; else rm -f "$HF_ROOT/procd.running"; fi
}
procd_open_instance() { _procd_log procd_open_instance "$@"; _procd_had_instance=1; }
procd_close_instance() { _procd_log procd_close_instance "$@"; }
procd_set_param() { _procd_log procd_set_param "$@"; }
procd_append_param() { _procd_log procd_append_param "$@"; }
procd_add_jail() { _procd_log procd_add_jail "$@"; }
procd_add_jail_mount() { _procd_log procd_add_jail_mount "$@"; }
procd_add_jail_mount_rw() { _procd_log procd_add_jail_mount_rw "$@"; }
procd_add_reload_trigger() { _procd_log procd_add_reload_trigger "$@"; }
procd_add_interface_trigger() { _procd_log procd_add_interface_trigger "$@"; }
procd_send_signal() { _procd_log procd_send_signal "$@"; }
procd_kill() { _procd_log procd_kill "$@"; rm -f "$HF_ROOT/procd.running"; }
procd_running() { [ -f "$HF_ROOT/procd.running" ]; }
