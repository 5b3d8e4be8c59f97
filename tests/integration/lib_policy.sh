# SPDX-License-Identifier: BSD-3-Clause
#
# A signed policy for a gateway of the standard topology (sourced after
# tests/lib.sh): every listener obeys default deny, so a test that sends
# traffic through one first pushes a snapshot that allows it.
#
#   lp_setup DIR             one signing key in DIR (threshold 1), state and socket there
#   lp_conf IN OUT [LINE...] IN with state_dir, control socket and trust set to DIR, plus LINEs
#   lp_push POLICY VERSION   build, sign and push; prints the verdict line
#   lp_echo_backend          nginx in mg-backend :80 echoing the target and host it got
#
# tests/data/policy/l4.conf allows mg-client (by its address) to the
# backend's ports 80 and 5201: what the L4 scripts need.
LP_DIR=
lp_setup() {
	LP_DIR=$1
	mkdir -p -m 0700 "$LP_DIR/state"
	LP_SOCK=$LP_DIR/control.sock
	"$MESHCTL" keygen -o "$LP_DIR/signer" >/dev/null 2>&1 || mg_die "meshctl keygen failed"
}
lp_conf() {
	local in=$1 out=$2 line
	shift 2
	sed -e "s|^state_dir = .*|state_dir = \"$LP_DIR/state\";|" \
	    -e "s|^\([[:space:]]*\)socket = .*|\1socket = \"$LP_SOCK\";|" "$in" >"$out"
	echo "trust = { keys = [ \"$LP_DIR/signer.pub\" ]; threshold = 1; };" >>"$out"
	for line in "$@"; do
		echo "$line" >>"$out"
	done
}
lp_push() {
	local policy=$1 version=$2 snap=$LP_DIR/policy-$2.msnap
	"$MESHCTL" snapshot build "$policy" --version "$version" --expires 2099-01-01T00:00:00Z -o "$snap" >/dev/null ||
		mg_die "snapshot build $policy failed"
	"$MESHCTL" snapshot sign "$snap" --key "$LP_DIR/signer.key" >/dev/null ||
		mg_die "snapshot sign failed"
	"$MESHCTL" push "$snap" --socket "$LP_SOCK" 2>&1
}

# lp_echo_backend: nginx in mg-backend on port 80, kept-alive, answering every
# request with the target and host it received ("uri=... host=...\n"), so an
# L7 test sees what went upstream. Its files live in $tmp; mg_cleanup ends it.
lp_echo_backend() {
	cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $tmp/nginx-body;
  server {
    listen $MG_BACKEND_IP:80;
    location / { default_type text/plain; return 200 "uri=\$request_uri host=\$host\n"; }
  }
}
EOF
	mg_bg ip netns exec mg-backend nginx -c "$tmp/nginx.conf" >/dev/null 2>&1
}
