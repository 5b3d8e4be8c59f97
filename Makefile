# meshgw: thin driver over meson. Everything is idempotent; run as root on Debian 12.
#   make deps    install every Debian package the build, tests, demo and bench use
#   make build   build/ (release-ish), build-asan/ (ASan+UBSan), build-fuzz/ (clang+libFuzzer)
#   make test    deps + build + the whole suite; last line "N passed, N failed"
#   make demo    deps + build + the end-to-end demo in network namespaces
#   make bench   deps + build + benchmarks (bench/README.md)
#   make clean   remove the build directories

DEPS := build-essential pkg-config meson ninja-build clang libfuzzer-14-dev \
	libclang-rt-14-dev dpdk dpdk-dev libdpdk-dev libconfig-dev libssl-dev openssl \
	libhyperscan-dev libcmocka-dev iproute2 iputils-ping ethtool iptables procps \
	psmisc python3 python3-scapy curl socat iperf3 nginx libnginx-mod-stream haproxy \
	gnutls-bin sslscan linux-perf wrk

.PHONY: all deps build test demo bench clean

all: build

# One dpkg-query for all packages (one per package took 3.5 s of every make test).
deps:
	@installed=" $$(dpkg-query -W -f='$${Package}=$${Status}\n' $(DEPS) 2>/dev/null | \
		sed -n 's/=install ok installed$$//p' | tr '\n' ' ') "; \
	missing=""; for p in $(DEPS); do \
		case "$$installed" in *" $$p "*) ;; *) missing="$$missing $$p" ;; esac; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing </dev/null; \
	else echo "make deps: all packages present"; fi

build/build.ninja:
	meson setup build

build-asan/build.ninja:
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

build: build/build.ninja build-asan/build.ninja build-fuzz/build.ninja
	ninja -C build
	ninja -C build-asan
	ninja -C build-fuzz

test: deps
	@$(MAKE) --no-print-directory build
	tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory build
	tests/demo.sh

bench: deps
	@$(MAKE) --no-print-directory build
	bench/deny.sh
	bench/swap.sh
	bench/l4.sh
	bench/tls_hs.sh
	bench/mtls.sh
	bench/l7.sh

clean:
	rm -rf build build-asan build-fuzz
